// Offline JSON-LD document loader for the interop verifier: the contexts vendored in
// credentials/contexts (mapped by its index.json), DID documents handed in by the test, did:key
// resolved by the independent did:key driver, and status list credentials handed in by the test.
// Anything else is an error: nothing is fetched.
import {readFileSync} from 'node:fs';
import * as didKey from '@digitalbazaar/did-method-key';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';

const contextsDir = new URL('../../../credentials/contexts/', import.meta.url);
const index = JSON.parse(readFileSync(new URL('index.json', contextsDir), 'utf8'));
export const contexts = new Map(Object.entries(index).map(
  ([url, file]) => [url, JSON.parse(readFileSync(new URL(file, contextsDir), 'utf8'))]));

const didKeyDriver = didKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

function remote(url, document) {
  return {contextUrl: null, documentUrl: url, document};
}

export async function resolveDidUrl(url, didDocuments = {}) {
  const [did, fragment] = url.split('#');
  if(did.startsWith('did:key:')) {
    return didKeyDriver.get({url});
  }
  const doc = didDocuments[did];
  if(!doc) {
    throw new Error(`no DID document given for ${did}`);
  }
  if(fragment === undefined) {
    return doc;
  }
  const absolute = id => (id.startsWith('#') ? did + id : id);
  const method = (doc.verificationMethod || []).find(vm => absolute(vm.id) === url);
  if(!method) {
    throw new Error(`${url} is not in the DID document of ${did}`);
  }
  return {'@context': doc['@context'], ...method, id: url};
}

export function makeLoader({didDocuments = {}, statusListCredentials = {}} = {}) {
  return async url => {
    if(contexts.has(url)) {
      return remote(url, structuredClone(contexts.get(url)));
    }
    if(Object.hasOwn(statusListCredentials, url)) {
      return remote(url, structuredClone(statusListCredentials[url]));
    }
    if(url.startsWith('did:')) {
      return remote(url, await resolveDidUrl(url, didDocuments));
    }
    throw new Error(`document not available offline: ${url}`);
  };
}

export async function readStdinJson() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}
