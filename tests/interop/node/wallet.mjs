// An independent OpenID4VCI 1.0 wallet: @openid4vc/openid4vci (with @openid4vc/oauth2) claims
// a credential from a credential offer, pre-authorized code flow. Reads one JSON request:
//   {offer, txCode?, configurationId, key: "Ed25519" | "P-256", binding: "did:key" | "did:jwk" | "jwk"}
// and prints {holderDid, configurationIds, format, credential, accessToken} or {error, ...}.
// Everything (the offer URI, both metadata documents, token, nonce, credential) comes from the
// issuer named in the offer; nothing else is contacted.
import * as jose from 'jose';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {createHash, randomBytes} from 'node:crypto';
import {Openid4vciClient} from '@openid4vc/openid4vci';
import {clientAuthenticationNone} from '@openid4vc/oauth2';
import {setGlobalConfig} from '@openid4vc/utils';
import {readStdinJson} from './loader.mjs';

// The test server speaks plain HTTP on 127.0.0.1; the library insists on https by default.
setGlobalConfig({allowInsecureUrls: true});

async function holderKey(kind, binding) {
  const alg = kind === 'Ed25519' ? 'EdDSA' : 'ES256';
  const {publicKey, privateKey} = await jose.generateKeyPair(alg, {extractable: true});
  const publicJwk = await jose.exportJWK(publicKey);
  let did;
  let didUrl;
  if(binding === 'did:key') {
    if(kind !== 'Ed25519') {
      throw new Error('this client makes did:key only for Ed25519');
    }
    const keyPair = await Ed25519Multikey.fromJwk({jwk: publicJwk});
    did = `did:key:${keyPair.publicKeyMultibase}`;
    didUrl = `${did}#${keyPair.publicKeyMultibase}`;
  } else if(binding === 'did:jwk') {
    did = `did:jwk:${jose.base64url.encode(JSON.stringify(publicJwk))}`;
    didUrl = `${did}#0`;
  }
  const signer = binding === 'jwk' ?
    {method: 'jwk', alg, publicJwk} : {method: 'did', alg, didUrl};
  return {alg, privateKey, publicJwk, did, signer};
}

const request = await readStdinJson();
const key = await holderKey(request.key || 'Ed25519', request.binding || 'did:key');
const callbacks = {
  fetch,
  clientAuthentication: clientAuthenticationNone({clientId: 'skillsign-interop-wallet'}),
  generateRandom: size => randomBytes(size),
  hash: (data, alg) => createHash(alg.replace('-', '')).update(data).digest(),
  signJwt: async (_signer, {header, payload}) => {
    const jwt = await new jose.SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
    return {jwt, signerJwk: key.publicJwk};
  }
};
const client = new Openid4vciClient({callbacks});
try {
  const credentialOffer = await client.resolveCredentialOffer(request.offer);
  const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
  const {accessTokenResponse} = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer, issuerMetadata, txCode: request.txCode
  });
  const {c_nonce: nonce} = await client.requestNonce({issuerMetadata});
  const configurationId = request.configurationId ||
    credentialOffer.credential_configuration_ids[0];
  const {jwt: proofJwt} = await client.createCredentialRequestJwtProof({
    issuerMetadata, credentialConfigurationId: configurationId, signer: key.signer, nonce
  });
  const response = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configurationId,
    proofs: {jwt: [proofJwt]}
  });
  const credentials = response.credentialResponse.credentials || [];
  process.stdout.write(JSON.stringify({
    holderDid: key.did ?? null,
    holderJwk: key.publicJwk,
    configurationIds: credentialOffer.credential_configuration_ids,
    version: issuerMetadata.originalDraftVersion,
    format: issuerMetadata.credentialIssuer
      .credential_configurations_supported[configurationId].format,
    credential: credentials[0]?.credential ?? null,
    proofHeader: jose.decodeProtectedHeader(proofJwt),
    accessToken: accessTokenResponse.access_token
  }) + '\n');
} catch(error) {
  process.stdout.write(JSON.stringify({
    error: String(error.message || error),
    response: error.errorResponse ?? error.response?.body ?? null
  }) + '\n');
}
