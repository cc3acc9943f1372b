// Interoperability check: the certified OpenID Connect client library
// openid-client (not ours) completes a login against the hub as a registered
// service, validates the ID token (signature included) and reads the signed
// userinfo. Driven by crates/testkit/tests/federation.rs:
//   node openid-client.mjs <issuer> <client_id> <client_secret> <redirect_uri>
// prints {"authorization_url": …}, reads the callback URL on stdin, then
// prints {"id_token_claims": …, "userinfo": …} or {"error": …}.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const [issuer, clientId, clientSecret, redirectUri] = process.argv.slice(2);

async function main() {
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { userinfo_signed_response_alg: 'ES256', id_token_signed_response_alg: 'ES256' },
    client.ClientSecretPost(clientSecret),
    { execute: [client.allowInsecureRequests] },
  );
  client.enableNonRepudiationChecks(config);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid identite_pivot email',
    state,
    nonce,
    acr_values: 'eidas1',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  console.log(JSON.stringify({ authorization_url: url.href }));

  const lines = createInterface({ input: process.stdin });
  const callback = await new Promise((resolve) => lines.once('line', resolve));
  lines.close();
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  console.log(JSON.stringify({ id_token_claims: claims, userinfo }));
}

main().catch((error) => {
  console.log(JSON.stringify({ error: `${error.name}: ${error.message} ${error.code ?? ''}` }));
  process.exit(1);
});
