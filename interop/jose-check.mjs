// Independent check of encrypted tokens: the JOSE library `jose` (not ours)
// decrypts each token read on stdin with the service's private key, verifies
// the inner signature with the hub's published keys, and prints the claims.
//   node jose-check.mjs '<private JWK>' <hub jwks_uri>
import * as jose from 'jose';
import { createInterface } from 'node:readline';

const [privateJwk, jwksUri] = process.argv.slice(2);
const jwk = JSON.parse(privateJwk);
const key = await jose.importJWK(jwk, jwk.alg);
const hubKeys = jose.createRemoteJWKSet(new URL(jwksUri));

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  try {
    const { plaintext, protectedHeader } = await jose.compactDecrypt(line.trim(), key, {
      keyManagementAlgorithms: ['ECDH-ES', 'RSA-OAEP-256', 'RSA-OAEP'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    const { payload } = await jose.jwtVerify(new TextDecoder().decode(plaintext), hubKeys, { algorithms: ['ES256'] });
    console.log(JSON.stringify({ header: protectedHeader, claims: payload }));
  } catch (error) {
    console.log(JSON.stringify({ error: `${error.name}: ${error.message}` }));
  }
}
