/**
 * Test helper: a throwaway PKI made with the openssl CLI (a root CA, an intermediate CA and a
 * deployment-spec signer issued by the intermediate), and a signer that wraps a JSON deployment
 * specification into an attached PKCS7 (CMS SignedData) the way the CodeDeploy service does
 * (`OpenSSL::PKCS7.sign(..., BINARY).to_pem` in the official agent's tests).
 *
 * Everything is synchronous (execFileSync) so fake servers can sign inside request handlers.
 * Reused by the spec, poller and control-plane tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SpecSignerOptions {
  /** Directory for keys and certificates; default: a fresh temp dir (removed by cleanup()). */
  dir?: string;
  /** The signer certificate's subject; default the official tests' `/CN=codedeploy-signer-us-east-1.amazonaws.com`. */
  signerSubject?: string;
  /** Issue the signer with these past validity dates (openssl `ca` format YYYYMMDDHHMMSSZ) to get an expired signer. */
  signerValidity?: { start: string; end: string };
  /** Subject prefix of the CA certificates (to tell two throwaway PKIs apart in messages). */
  caName?: string;
}

export interface SpecSigner {
  dir: string;
  /** PEM file holding only the root CA certificate (what `deployment_spec_ca_file` points at). */
  caCertPath: string;
  caCertPem: string;
  intermediateCertPath: string;
  signerCertPath: string;
  signerKeyPath: string;
  signerSubject: string;
  /** Signs the content (a string, or an object serialised as JSON) into attached CMS, PEM (`-----BEGIN CMS-----`). */
  sign(content: string | object): string;
  /** The same, as DER bytes. */
  signDer(content: string | object): Buffer;
  /** A GetDeploymentSpecification envelope: `{ Format: 'PKCS7/JSON', Payload: <PEM> }`. */
  envelope(spec: object): { Format: 'PKCS7/JSON'; Payload: string };
  /** Removes the directory when the helper created it. */
  cleanup(): void;
}

const openssl = (args: string[], cwd: string, input?: string | Buffer): Buffer =>
  execFileSync('openssl', args, { cwd, input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });

const CA_EXT = [
  '[ca]',
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid:always',
  '',
].join('\n');
const LEAF_EXT = [
  '[leaf]',
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, nonRepudiation',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid:always',
  '',
].join('\n');

/** A minimal `openssl ca` configuration, only used to give the signer explicit (past) dates. */
function caConfig(dir: string): string {
  return [
    '[ca]',
    'default_ca = cda',
    '[cda]',
    `dir = ${dir}`,
    'database = $dir/index.txt',
    'new_certs_dir = $dir',
    'serial = $dir/serial',
    'default_md = sha256',
    'policy = any',
    'unique_subject = no',
    'copy_extensions = none',
    '[any]',
    'commonName = supplied',
    LEAF_EXT,
  ].join('\n');
}

export function createSpecSigner(options: SpecSignerOptions = {}): SpecSigner {
  const owned = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'cda-spec-signer-'));
  const caName = options.caName ?? 'CodeDeploy Test';
  const signerSubject = options.signerSubject ?? '/CN=codedeploy-signer-us-east-1.amazonaws.com';
  writeFileSync(join(dir, 'ext.cnf'), `${CA_EXT}\n${LEAF_EXT}`);

  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '3650',
      '-subj',
      `/O=${caName}/CN=${caName} Root CA`,
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );

  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'intermediate.key',
      '-out',
      'intermediate.csr',
      '-subj',
      `/O=${caName}/CN=${caName} Intermediate CA`,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'intermediate.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'intermediate.pem',
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      'ext.cnf',
      '-extensions',
      'ca',
    ],
    dir,
  );

  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'signer.key', '-out', 'signer.csr', '-subj', signerSubject], dir);
  if (options.signerValidity) {
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '1000\n');
    writeFileSync(join(dir, 'ca.cnf'), caConfig(dir));
    openssl(
      [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-cert',
        'intermediate.pem',
        '-keyfile',
        'intermediate.key',
        '-in',
        'signer.csr',
        '-out',
        'signer.pem',
        '-notext',
        '-startdate',
        options.signerValidity.start,
        '-enddate',
        options.signerValidity.end,
        '-extensions',
        'leaf',
      ],
      dir,
    );
  } else {
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'signer.csr',
        '-CA',
        'intermediate.pem',
        '-CAkey',
        'intermediate.key',
        '-CAcreateserial',
        '-out',
        'signer.pem',
        '-days',
        '825',
        '-sha256',
        '-extfile',
        'ext.cnf',
        '-extensions',
        'leaf',
      ],
      dir,
    );
  }

  const body = (content: string | object): string => (typeof content === 'string' ? content : JSON.stringify(content));
  const cms = (content: string | object, outform: 'PEM' | 'DER'): Buffer =>
    openssl(
      [
        'cms',
        '-sign',
        '-binary',
        '-nodetach',
        '-md',
        'sha256',
        '-signer',
        'signer.pem',
        '-inkey',
        'signer.key',
        '-certfile',
        'intermediate.pem',
        '-outform',
        outform,
      ],
      dir,
      body(content),
    );

  const signer: SpecSigner = {
    dir,
    caCertPath: join(dir, 'ca.pem'),
    caCertPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    intermediateCertPath: join(dir, 'intermediate.pem'),
    signerCertPath: join(dir, 'signer.pem'),
    signerKeyPath: join(dir, 'signer.key'),
    signerSubject,
    sign: (content) => cms(content, 'PEM').toString('utf8'),
    signDer: (content) => cms(content, 'DER'),
    envelope: (spec) => ({ Format: 'PKCS7/JSON', Payload: cms(spec, 'PEM').toString('utf8') }),
    cleanup: () => {
      if (owned) rmSync(dir, { recursive: true, force: true });
    },
  };
  return signer;
}

let shared: SpecSigner | undefined;

/** One signer per test worker, created on first use and removed when the worker exits. */
export function sharedSpecSigner(): SpecSigner {
  if (!shared) {
    const created = createSpecSigner();
    shared = created;
    process.once('exit', () => created.cleanup());
  }
  return shared;
}

/** The path of the shared signer's CA certificate PEM (for `deployment_spec_ca_file`). */
export function specSignerCaFile(): string {
  return sharedSpecSigner().caCertPath;
}
