// Signs a credential the way many OB 3.0 issuers in the field still do: VC 1.1 context,
// issuanceDate, and an Ed25519Signature2020 proof (@digitalbazaar/vc +
// @digitalbazaar/ed25519-signature-2020). Reads {credential, seedHex, verificationMethod, created}
// on stdin and prints {signed}. Our verifier must accept what it signs, and nothing altered.
import * as vc from '@digitalbazaar/vc';
import {Ed25519VerificationKey2020} from
  '@digitalbazaar/ed25519-verification-key-2020';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import {makeLoader, readStdinJson} from './loader.mjs';

const request = await readStdinJson();
const [controller] = request.verificationMethod.split('#');
const key = await Ed25519VerificationKey2020.generate({
  seed: Uint8Array.from(Buffer.from(request.seedHex, 'hex')),
  id: request.verificationMethod,
  controller
});
const suite = new Ed25519Signature2020({key, date: request.created});
const signed = await vc.issue({
  credential: structuredClone(request.credential),
  suite,
  documentLoader: makeLoader(request)
});
process.stdout.write(JSON.stringify({signed}) + '\n');
