// What an application needs to be configured against this server (issue 12, "results
// are visible"): the issuer, its discovery document, the client id and a redirect URI,
// as `.env` lines and as code for a typical OIDC library (`openid-client`, v6). The
// secret is never part of it: it exists only in the shown-once dialog, so the snippet
// names the variable and leaves its value to the person who copied it there.
import { DEVICE_CODE } from './kinds';

export interface SetupClient {
  client_id: string;
  client_type: string;
  auth_method: string;
  grant_types: string[];
  redirect_uris: string[];
  allowed_scopes: string[];
}

/** OpenID Connect Discovery 1.0 §4: the document is at the issuer + this path. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

const usesSecret = (c: SetupClient) => c.client_type === 'confidential' && c.auth_method.startsWith('client_secret');

/** `.env` lines: what every library asks for, under the names most examples use. */
export function envSnippet(c: SetupClient, issuer: string): string {
  const lines = [`OIDC_ISSUER=${issuer}`, `OIDC_CLIENT_ID=${c.client_id}`];
  if (c.redirect_uris[0]) lines.push(`OIDC_REDIRECT_URI=${c.redirect_uris[0]}`);
  if (c.allowed_scopes.length) lines.push(`OIDC_SCOPE="${c.allowed_scopes.join(' ')}"`);
  if (usesSecret(c)) lines.push('# OIDC_CLIENT_SECRET: the secret shown once when it was created or rotated');
  return lines.join('\n') + '\n';
}

/** Node's `openid-client` (v6): discovery, then the flow this client is registered for. */
export function openidClientSnippet(c: SetupClient): string {
  const auth = usesSecret(c)
    ? 'process.env.OIDC_CLIENT_SECRET'
    : c.auth_method === 'none' ? 'undefined, client.None()' : 'undefined /* private_key_jwt: client.PrivateKeyJwt(key) */';
  const out = [
    "import * as client from 'openid-client';",
    '',
    `const config = await client.discovery(new URL(process.env.OIDC_ISSUER), process.env.OIDC_CLIENT_ID, ${auth});`,
  ];
  if (c.grant_types.includes('authorization_code')) {
    out.push(
      '',
      '// Sign-in: PKCE (S256) is required for every client here.',
      'const verifier = client.randomPKCECodeVerifier();',
      'const url = client.buildAuthorizationUrl(config, {',
      '  redirect_uri: process.env.OIDC_REDIRECT_URI,',
      '  scope: process.env.OIDC_SCOPE,',
      '  code_challenge: await client.calculatePKCECodeChallenge(verifier),',
      "  code_challenge_method: 'S256',",
      '});',
      '// … and on the redirect back:',
      'const tokens = await client.authorizationCodeGrant(config, currentUrl, { pkceCodeVerifier: verifier });',
    );
  } else if (c.grant_types.includes('client_credentials')) {
    out.push('', 'const tokens = await client.clientCredentialsGrant(config, { scope: process.env.OIDC_SCOPE });');
  } else if (c.grant_types.includes(DEVICE_CODE)) {
    out.push(
      '',
      'const device = await client.initiateDeviceAuthorization(config, { scope: process.env.OIDC_SCOPE });',
      '// show device.user_code and device.verification_uri, then:',
      'const tokens = await client.pollDeviceAuthorizationGrant(config, device);',
    );
  }
  return out.join('\n') + '\n';
}
