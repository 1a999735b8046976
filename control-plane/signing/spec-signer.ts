/**
 * Signs deployment specifications as the real service does: a CMS (PKCS#7) SignedData over the
 * JSON text, PEM encoded, with the content attached, sent as Envelope {Format: "PKCS7/JSON"}.
 * The signing certificate is issued by the control plane's own CA, which agents trust through
 * `:deployment_spec_ca_file:`.
 */
export interface SpecSigner {
  /** PEM "-----BEGIN PKCS7-----" text whose signed content is exactly `json` (UTF-8). */
  sign(json: string): Promise<string>;
  /** The CA certificate (PEM) agents put in :deployment_spec_ca_file:. */
  readonly caCertificatePem: string;
  /** Where that CA certificate is on disk. */
  readonly caCertificatePath: string;
}
