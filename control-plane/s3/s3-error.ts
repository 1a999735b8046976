/**
 * An error answered on S3's REST/XML wire: the HTTP status and the `<Code>` the SDKs branch on
 * (the SDK turns NoSuchKey and NoSuchBucket into their modeled classes, and every other code into
 * an S3ServiceException whose name is the code). Operations throw these; anything else is answered
 * as a 500 InternalError whose details go to the log only.
 */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Extra response headers, e.g. x-amz-delete-marker on a GET of a deleted key. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

export const noSuchBucket = (bucket: string): S3Error => new S3Error('NoSuchBucket', `The specified bucket does not exist: ${bucket}`, 404);

export const noSuchKey = (key: string, headers: Record<string, string> = {}): S3Error =>
  new S3Error('NoSuchKey', `The specified key does not exist: ${key}`, 404, headers);

export const noSuchVersion = (key: string, versionId: string): S3Error =>
  new S3Error('NoSuchVersion', `The specified version ${versionId} does not exist for key ${key}`, 404);

export const noSuchUpload = (uploadId: string): S3Error =>
  new S3Error('NoSuchUpload', `The specified multipart upload does not exist: ${uploadId}. It may have been aborted or completed.`, 404);

export const notImplemented = (what: string): S3Error =>
  new S3Error('NotImplemented', `The local S3 endpoint does not implement ${what}`, 501);

export const invalidArgument = (name: string, message: string): S3Error => new S3Error('InvalidArgument', `${name}: ${message}`);
