// Independent verifier. Reads one JSON request on stdin, or {"requests": [...]} for a batch:
//   {id?, credential | jwt, didDocuments?, statusListCredentials?, jwks?, now?}
// and prints one JSON result per request (a list for a batch):
//   {id, verified, errors: [...], statusResults: [{purpose, status}], revoked, format}
// Note: @digitalbazaar/vc reports verified=true for a revoked credential; revocation shows only
// in the status results, so `revoked` is read from them.
import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as jose from 'jose';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {makeLoader, readStdinJson, resolveDidUrl} from './loader.mjs';

function messages(error, out = []) {
  if(!error) {
    return out;
  }
  if(Array.isArray(error)) {
    error.forEach(e => messages(e, out));
    return out;
  }
  out.push(String(error.message || error));
  messages(error.errors, out);
  messages(error.cause, out);
  return out;
}

async function verifyDataIntegrity(request) {
  const documentLoader = makeLoader(request);
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const options = {credential: request.credential, suite, documentLoader};
  if(request.now) {
    options.now = new Date(request.now);
  }
  if(request.credential && request.credential.credentialStatus) {
    options.checkStatus = checkStatus;
  }
  const result = await vc.verifyCredential(options);
  const errors = messages(result.error);
  for(const r of result.results || []) {
    messages(r.error, errors);
  }
  const statusResults = (result.statusResult?.results || []).map(r => ({
    purpose: r.credentialStatus?.statusPurpose, status: r.status
  }));
  messages(result.statusResult?.error, errors);
  return {
    format: 'json',
    verified: result.verified === true,
    errors: [...new Set(errors)],
    statusResults,
    revoked: statusResults.some(r => r.status === true)
  };
}

async function publicKeyFor(kid, request, alg) {
  if(request.jwks && request.jwks[kid]) {
    return jose.importJWK(request.jwks[kid], request.jwks[kid].alg);
  }
  // The kid is a DID URL: dereferenced in the issuer's DID document to its method, which
  // holds either a JWK (publicKeyJwk: RS256 keys) or a Multikey (Ed25519).
  const method = await resolveDidUrl(kid, request.didDocuments);
  if(method.publicKeyJwk) {
    if('d' in method.publicKeyJwk) {
      throw new Error(`${kid}: the DID document publishes a private key`);
    }
    return jose.importJWK(method.publicKeyJwk, alg);
  }
  const keyPair = await Ed25519Multikey.from(method);
  const jwk = await Ed25519Multikey.toJwk({keyPair});
  return jose.importJWK(jwk, 'EdDSA');
}

async function verifyJwt(request) {
  const header = jose.decodeProtectedHeader(request.jwt);
  const key = await publicKeyFor(header.kid, request, header.alg);
  const options = {algorithms: ['EdDSA', 'Ed25519', 'RS256'], typ: 'JWT'};
  if(request.now) {
    options.currentDate = new Date(request.now);
  }
  const {payload} = await jose.jwtVerify(request.jwt, key, options);
  const errors = [];
  const issuer = typeof payload.issuer === 'object' ? payload.issuer.id : payload.issuer;
  const expect = (claim, value) => {
    if(payload[claim] !== value) {
      errors.push(`${claim} ${JSON.stringify(payload[claim])} != ${JSON.stringify(value)}`);
    }
  };
  // OB 3.0 section 8.2: the payload is the credential itself (VC 2.0), not a `vc` claim,
  // with iss, sub (when the subject has an id), jti, nbf and exp beside its members.
  if('vc' in payload) {
    errors.push('the payload nests the credential in a vc claim (VC 1.1 form)');
  }
  if(!Array.isArray(payload['@context']) || !Array.isArray(payload.type) ||
    !payload.type.includes('OpenBadgeCredential')) {
    errors.push('the payload is not an OpenBadgeCredential (@context, type)');
  }
  expect('iss', issuer);
  if(payload.credentialSubject?.id !== undefined || 'sub' in payload) {
    expect('sub', payload.credentialSubject?.id);
  }
  expect('jti', payload.id);
  expect('nbf', Math.floor(Date.parse(payload.validFrom) / 1000));
  if(payload.validUntil) {
    expect('exp', Math.floor(Date.parse(payload.validUntil) / 1000));
  }
  const [vmController] = header.kid.split('#');
  if(vmController !== issuer) {
    errors.push(`kid ${header.kid} does not belong to issuer ${issuer}`);
  }
  return {
    format: 'jwt', verified: errors.length === 0, errors, statusResults: [], revoked: false,
    header, credential: payload
  };
}

async function handle(request) {
  try {
    const result = request.jwt ?
      await verifyJwt(request) : await verifyDataIntegrity(request);
    return {id: request.id ?? null, ...result};
  } catch(error) {
    return {
      id: request.id ?? null, verified: false, errors: messages(error), statusResults: [],
      revoked: false
    };
  }
}

const input = await readStdinJson();
const output = Array.isArray(input.requests) ?
  await Promise.all(input.requests.map(handle)) : await handle(input);
process.stdout.write(JSON.stringify(output) + '\n');
