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
//   node mdoc-check.mjs make-own-pki DIR
//     the same, signed by a document signer of a PKI made here with
//     @peculiar/x509 and WebCrypto (its own IACA, a DS certificate with
//     keyUsage digitalSignature), written as DIR/iaca.der.
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

import { createPrivateKey, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceResponse, Document, MDoc, Verifier } from '@auth0/mdl';
import * as x509 from '@peculiar/x509';

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

/// A PKI of this side's own: an IACA and a document signer under it.
async function ownPki(dir) {
  x509.cryptoProvider.set(webcrypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const notBefore = new Date(Date.now() - DAY);
  const notAfter = new Date(Date.now() + 365 * DAY);
  const iacaKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const iaca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=IACA-INTEROP,O=auth0-mdl side,C=US', notBefore, notAfter,
    keys: iacaKeys, signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const dsKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const ds = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: 'CN=DS-INTEROP,O=auth0-mdl side,C=US', issuer: iaca.subject,
    notBefore, notAfter, signingAlgorithm: alg, publicKey: dsKeys.publicKey,
    signingKey: iacaKeys.privateKey,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  writeFileSync(join(dir, 'iaca.der'), Buffer.from(iaca.rawData));
  const key = await webcrypto.subtle.exportKey('jwk', dsKeys.privateKey);
  return { certificate: ds.toString('pem'), key: { ...key, kid: 'DS-INTEROP' } };
}

async function make(dir, dsCert, dsKey, own) {
  const transcript = readFileSync(join(dir, 'transcript.cbor'));
  const ours = dsCert !== undefined;
  let certificate = ours ? pem(readFileSync(dsCert), 'CERTIFICATE') : ISSUER_CERTIFICATE;
  let issuerKey = ours
    ? { ...createPrivateKey({ key: readFileSync(dsKey), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }), kid: 'DS-mDL-TEST' }
    : ISSUER_PRIVATE_KEY_JWK;
  if (own) ({ certificate, key: issuerKey } = own);
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
  if (!ours && !own) writeFileSync(join(dir, 'iaca.der'), der(ISSUER_CERTIFICATE));
  return { docType: MDL, requested: { [NAMESPACE]: fields } };
}

const [command, dir, ...rest] = process.argv.slice(2);
try {
  const result = command === 'verify'
    ? await verify(dir)
    : command === 'make-own-pki'
      ? await make(dir, undefined, undefined, await ownPki(dir))
      : await make(dir, ...rest);
  console.log(JSON.stringify(result));
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error) }));
  process.exitCode = 1;
}
