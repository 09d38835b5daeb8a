// Reference signer for the benchmark and the byte-for-byte cross-check. Reads on stdin:
//   {credential, seedHex, verificationMethod, created, iterations?, warmup?}
// signs the credential with @digitalbazaar/vc (eddsa-rdfc-2022) `iterations` times, verifies its
// proof as many times, and prints {signed, signMs: [...], verifyMs: [...]} (times inside this process).
import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {makeLoader, readStdinJson} from './loader.mjs';

const request = await readStdinJson();
const [controller] = request.verificationMethod.split('#');
const keyPair = await Ed25519Multikey.generate({
  seed: Uint8Array.from(Buffer.from(request.seedHex, 'hex')),
  id: request.verificationMethod,
  controller
});
const documentLoader = makeLoader(request);
const iterations = request.iterations ?? 1;
const warmup = request.warmup ?? 0;

async function signOnce() {
  const suite = new DataIntegrityProof({
    signer: keyPair.signer(), date: request.created, cryptosuite: eddsaRdfc2022CryptoSuite
  });
  return vc.issue({credential: structuredClone(request.credential), suite, documentLoader});
}

async function verifyOnce(credential) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  // Proof only, like the Python side it is compared with: the status list is not fetched.
  const checkStatus = async () => ({verified: true});
  const result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus});
  if(!result.verified) {
    throw new Error('reference verification failed: ' + JSON.stringify(result.error?.message));
  }
}

async function timed(fn, count) {
  const out = [];
  for(let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return out;
}

let signed;
for(let i = 0; i < warmup; i++) {
  signed = await signOnce();
  await verifyOnce(signed);
}
const signMs = await timed(async () => {
  signed = await signOnce();
}, iterations);
const verifyMs = await timed(() => verifyOnce(signed), iterations);
process.stdout.write(JSON.stringify({signed, signMs, verifyMs}) + '\n');
