// The independent check of Passerelle's mdoc crate: @auth0/mdl (not ours)
// verifies a DeviceResponse we made, and makes one for us to verify.
// Run by crates/mdoc/tests/mdoc.rs; every file is in one folder:
//
//   node mdoc-check.mjs verify DIR
//     reads DIR/response.cbor (DeviceResponse), DIR/iaca.der (the trusted
//     IACA) and DIR/transcript.cbor (SessionTranscriptBytes), verifies
//     with @auth0/mdl's Verifier and prints {"docType", "elements": {ns:
//     {id: value}}} or {"error"} as one JSON line.
//
//   node mdoc-check.mjs make DIR [DS_CERT_DER DS_KEY_PKCS8_DER]
//     issues an mDL with @auth0/mdl's Document, presents family_name,
//     given_name, birth_date and driving_privileges with its
//     DeviceResponse for DIR/transcript.cbor, and writes DIR/response.cbor
//     and DIR/iaca.der. Signed with @auth0/mdl's own test issuer (its
//     self-signed certificate is also the IACA), or with the document
//     signer given (then no iaca.der: the caller has its IACA). The
//     device key is @auth0/mdl's test device key.
//
// Every key is given a kid: without one, @auth0/mdl 3.0.1 writes the
// kid header (label 4) as CBOR `undefined`, which RFC 9052 does not
// allow (a kid is a byte string) and our COSE parser refuses.
//
// The transcript is passed as bytes: @auth0/mdl 3.0.1's own
// usingSessionTranscriptForOID4VP puts the four raw strings in the
// handover, not the hashed OID4VPHandover of ISO 18013-7 Annex B.

import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceResponse, Document, MDoc, Verifier } from '@auth0/mdl';

// @auth0/mdl's test keys (its __tests__/issuing/config.ts: "randomly
// generated for the purpose of this test").
const DEVICE_JWK = {
  kty: 'EC',
  x: 'iBh5ynojixm_D0wfjADpouGbp6b3Pq6SuFHU3htQhVk',
  y: 'oxS1OAORJ7XNUHNfVFGeM8E0RQVFxWA62fJj-sxW03c',
  crv: 'P-256',
  d: 'eRpAZr3eV5xMMnPG3kWjg90Y-bBff9LqmlQuk49HUtA',
};
const ISSUER_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIICKjCCAdCgAwIBAgIUV8bM0wi95D7KN0TyqHE42ru4hOgwCgYIKoZIzj0EAwIw
UzELMAkGA1UEBhMCVVMxETAPBgNVBAgMCE5ldyBZb3JrMQ8wDQYDVQQHDAZBbGJh
bnkxDzANBgNVBAoMBk5ZIERNVjEPMA0GA1UECwwGTlkgRE1WMB4XDTIzMDkxNDE0
NTUxOFoXDTMzMDkxMTE0NTUxOFowUzELMAkGA1UEBhMCVVMxETAPBgNVBAgMCE5l
dyBZb3JrMQ8wDQYDVQQHDAZBbGJhbnkxDzANBgNVBAoMBk5ZIERNVjEPMA0GA1UE
CwwGTlkgRE1WMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEiTwtg0eQbcbNabf2
Nq9L/VM/lhhPCq2s0Qgw2kRx29tgrBcNHPxTT64tnc1Ij3dH/fl42SXqMenpCDw4
K6ntU6OBgTB/MB0GA1UdDgQWBBSrbS4DuR1JIkAzj7zK3v2TM+r2xzAfBgNVHSME
GDAWgBSrbS4DuR1JIkAzj7zK3v2TM+r2xzAPBgNVHRMBAf8EBTADAQH/MCwGCWCG
SAGG+EIBDQQfFh1PcGVuU1NMIEdlbmVyYXRlZCBDZXJ0aWZpY2F0ZTAKBggqhkjO
PQQDAgNIADBFAiAJ/Qyrl7A+ePZOdNfc7ohmjEdqCvxaos6//gfTvncuqQIhANo4
q8mKCA9J8k/+zh//yKbN1bLAtdqPx7dnrDqV3Lg+
-----END CERTIFICATE-----`;
const ISSUER_PRIVATE_KEY_JWK = {
  kty: 'EC',
  kid: '1234',
  x: 'iTwtg0eQbcbNabf2Nq9L_VM_lhhPCq2s0Qgw2kRx29s',
  y: 'YKwXDRz8U0-uLZ3NSI93R_35eNkl6jHp6Qg8OCup7VM',
  crv: 'P-256',
  d: 'o6PrzBm1dCfSwqJHW6DVqmJOCQSIAosrCPfbFJDMNp4',
};

const MDL = 'org.iso.18013.5.1.mDL';
const NAMESPACE = 'org.iso.18013.5.1';
const DAY = 24 * 3600 * 1000;

function pem(der, label) {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g);
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`;
}

function der(pemText) {
  return Buffer.from(pemText.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
}

// CBOR values as JSON: dates as their ISO text, bytes as base64, maps as
// objects.
function json(value) {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, json(v)]));
  if (Array.isArray(value)) return value.map(json);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, json(v)]));
  }
  return value;
}

async function verify(dir) {
  const response = readFileSync(join(dir, 'response.cbor'));
  const iaca = pem(readFileSync(join(dir, 'iaca.der')), 'CERTIFICATE');
  const transcript = readFileSync(join(dir, 'transcript.cbor'));
  const mdoc = await new Verifier([iaca]).verify(response, {
    encodedSessionTranscript: transcript,
  });
  const document = mdoc.documents[0];
  const elements = {};
  for (const [ns, items] of Object.entries(document.issuerSigned.nameSpaces)) {
    elements[ns] = Object.fromEntries(items.map((item) => [item.elementIdentifier, json(item.elementValue)]));
  }
  return { docType: document.docType, elements };
}

async function make(dir, dsCert, dsKey) {
  const transcript = readFileSync(join(dir, 'transcript.cbor'));
  const ours = dsCert !== undefined;
  const certificate = ours ? pem(readFileSync(dsCert), 'CERTIFICATE') : ISSUER_CERTIFICATE;
  const issuerKey = ours
    ? { ...createPrivateKey({ key: readFileSync(dsKey), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }), kid: 'DS-mDL-TEST' }
    : ISSUER_PRIVATE_KEY_JWK;
  const now = new Date();
  const { d: _private, ...devicePublic } = DEVICE_JWK;
  const issued = await new Document(MDL)
    .addIssuerNameSpace(NAMESPACE, {
      family_name: 'Jones',
      given_name: 'Ava',
      birth_date: '2007-03-25',
      issue_date: '2023-09-01',
      expiry_date: '2028-09-30',
      issuing_country: ours ? 'FR' : 'US',
      issuing_authority: 'NY DMV',
      document_number: '01-856-5050',
      driving_privileges: [
        { vehicle_category_code: 'C', issue_date: '2022-09-02', expiry_date: '2027-09-20' },
      ],
      un_distinguishing_sign: 'USA',
      age_over_18: true,
    })
    .useDigestAlgorithm('SHA-256')
    .addValidityInfo({ signed: now, validFrom: now, validUntil: new Date(now.getTime() + 365 * DAY) })
    .addDeviceKeyInfo({ deviceKey: devicePublic })
    .sign({ issuerPrivateKey: issuerKey, issuerCertificate: certificate, alg: 'ES256' });
  const fields = ['family_name', 'given_name', 'birth_date', 'driving_privileges'];
  const presentation = {
    id: 'passerelle-interop',
    input_descriptors: [{
      id: MDL,
      format: { mso_mdoc: { alg: ['ES256'] } },
      constraints: {
        limit_disclosure: 'required',
        fields: fields.map((field) => ({ path: [`$['${NAMESPACE}']['${field}']`], intent_to_retain: false })),
      },
    }],
  };
  const response = await DeviceResponse.from(new MDoc([issued]).encode())
    .usingPresentationDefinition(presentation)
    .usingSessionTranscriptBytes(transcript)
    .authenticateWithSignature({ ...DEVICE_JWK, kid: 'device-1' }, 'ES256')
    .sign();
  writeFileSync(join(dir, 'response.cbor'), response.encode());
  if (!ours) writeFileSync(join(dir, 'iaca.der'), der(ISSUER_CERTIFICATE));
  return { docType: MDL, requested: { [NAMESPACE]: fields } };
}

const [command, dir, ...rest] = process.argv.slice(2);
try {
  const result = command === 'verify' ? await verify(dir) : await make(dir, ...rest);
  console.log(JSON.stringify(result));
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error) }));
  process.exitCode = 1;
}
