/**
 * The GitHub-compatible endpoint of the local control plane: agents configured with
 * `:github_api_url: http://<cp>/github` download GitHub revisions from local git repositories
 * (`<reposDir>/<owner>/<repo>` or `<repo>.git`, see local-git.ts).
 *
 * What the agent does (agent/bundle/github-fetcher.ts): Octokit `repos.downloadTarballArchive` /
 * `downloadZipballArchive`, i.e. `GET <api>/repos/{owner}/{repo}/tarball|zipball/{ref}` (the ref
 * URL-encoded), and undici's fetch follows the redirect. So, like GitHub:
 *   GET /repos/{o}/{r}/tarball[/{ref}]  -> 302 to <this server><prefix>/_codeload/{o}/{r}/legacy.tar.gz/{sha}
 *   GET /repos/{o}/{r}/zipball[/{ref}]  -> 302 to ..._codeload/{o}/{r}/legacy.zip/{sha}
 *   GET /_codeload/{o}/{r}/legacy.(tar.gz|zip)/{sha} -> `git archive` with the `<o>-<r>-<sha7>/` prefix
 *   GET /repos/{o}/{r}, /repos/{o}/{r}/commits/{ref}, /, /rate_limit -> small JSON answers
 *   POST /webhook -> the push webhook (deploy on push), when one is given (push-webhook.ts)
 * The redirect names the resolved sha, so the download is of the commit the ref named when asked,
 * even if the branch moves in between. The absolute Location is built from the Host header (checked
 * to be a host[:port]; the socket's address otherwise).
 *
 * Errors are GitHub's: 404 `{"message":"Not Found","documentation_url":...}` for any unknown or
 * invalid owner, repository, ref or route; 500 `{"message":"Server Error"}` when git itself fails.
 *
 * Streaming: the archive goes from git's stdout to the socket with backpressure. Only the first
 * 64 KiB are held back, so that a git failure at the very start still becomes a clean 500 (and a
 * small archive gets a Content-Length); after the headers are out, a git failure destroys the
 * socket, so the client sees a broken download rather than a short one that looks complete.
 *
 * Authorization headers are accepted and ignored; no header is ever logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { HttpHandler } from '../http/route.js';
import { clip } from '../log/clip.js';
import {
  archiveRoot,
  defaultBranch,
  GitCommandError,
  isObjectId,
  openRepository,
  readCommit,
  repositoryId,
  resolveCommit,
  spawnArchive,
  type ArchiveFormat,
  type LocalRepository,
} from './local-git.js';

export interface GitHubHandlerOptions {
  /** Folder of `<owner>/<repo>` git repositories. */
  reposDir: string;
  /** Where the endpoint is mounted; default '/github'. */
  pathPrefix?: string;
  /** The push webhook (push-webhook.ts), asked first; without it, POST <prefix>/webhook is a 404. */
  webhook?: HttpHandler;
  logger: Logger;
}

const DOCS_URL = 'https://docs.github.com/rest';
/** Archive bytes held back before the 200 is committed (see the module comment). */
const HOLD_BACK_BYTES = 64 * 1024;
const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

type Segments = readonly string[];

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function notFound(res: ServerResponse): void {
  sendJson(res, 404, { message: 'Not Found', documentation_url: DOCS_URL });
}

function serverError(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else sendJson(res, 500, { message: 'Server Error', documentation_url: DOCS_URL });
}

/** The path after the prefix as decoded segments; undefined when the request is not ours. */
function routeSegments(rawUrl: string, prefix: string): Segments | undefined | 'malformed' {
  if (!rawUrl.startsWith('/')) return undefined;
  const path = rawUrl.split(/[?#]/, 1)[0] ?? '';
  if (path !== prefix && !path.startsWith(`${prefix}/`)) return undefined;
  const rest = path.slice(prefix.length);
  const raw = rest === '' || rest === '/' ? [] : rest.slice(1).split('/');
  try {
    return raw.map((s) => decodeURIComponent(s));
  } catch {
    return 'malformed';
  }
}

/** http(s)://host[:port] of this server as the client reached it. */
function selfOrigin(req: IncomingMessage): string {
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  const host = req.headers.host;
  if (host !== undefined && HOST_HEADER.test(host)) return `${scheme}://${host}`;
  const address = req.socket.localAddress ?? '127.0.0.1';
  const shown = address.includes(':') ? `[${address}]` : address;
  return `${scheme}://${shown}:${req.socket.localPort ?? 80}`;
}

function pathOf(rawUrl: string): string {
  return rawUrl.split(/[?#]/, 1)[0] ?? '';
}

export function createGitHubHandler(opts: GitHubHandlerOptions): HttpHandler {
  const prefix = (opts.pathPrefix ?? '/github').replace(/\/+$/, '');
  const { reposDir, logger } = opts;

  const repoJson = async (res: ServerResponse, repo: LocalRepository): Promise<void> => {
    sendJson(res, 200, {
      id: repositoryId(repo.owner, repo.name),
      name: repo.name,
      full_name: `${repo.owner}/${repo.name}`,
      owner: { login: repo.owner },
      default_branch: await defaultBranch(repo),
      private: false,
    });
  };

  const commitJson = async (req: IncomingMessage, res: ServerResponse, repo: LocalRepository, ref: string): Promise<void> => {
    const sha = await resolveCommit(repo, ref);
    if (!sha) return notFound(res);
    // Octokit's `mediaType: { format: 'sha' }` asks for the bare sha.
    if ((req.headers.accept ?? '').includes('application/vnd.github.sha')) {
      res.writeHead(200, { 'content-type': 'application/vnd.github.sha; charset=utf-8', 'content-length': Buffer.byteLength(sha) });
      res.end(sha);
      return;
    }
    const info = await readCommit(repo, sha);
    sendJson(res, 200, { sha: info.sha, commit: { message: info.message, author: info.author, committer: info.committer } });
  };

  const redirect = async (
    req: IncomingMessage,
    res: ServerResponse,
    repo: LocalRepository,
    kind: 'tarball' | 'zipball',
    ref: string,
  ): Promise<void> => {
    const sha = await resolveCommit(repo, ref);
    if (!sha) return notFound(res);
    const file = kind === 'zipball' ? 'legacy.zip' : 'legacy.tar.gz';
    const location = `${selfOrigin(req)}${prefix}/_codeload/${repo.owner}/${repo.name}/${file}/${sha}`;
    res.writeHead(302, { location, 'content-length': 0 });
    res.end();
  };

  const archive = async (
    req: IncomingMessage,
    res: ServerResponse,
    repo: LocalRepository,
    format: ArchiveFormat,
    sha: string,
  ): Promise<void> => {
    if (!isObjectId(sha) || (await resolveCommit(repo, sha)) !== sha) return notFound(res);
    const filename = `${archiveRoot(repo, sha)}.${format}`;
    const headers = {
      'content-type': format === 'zip' ? 'application/zip' : 'application/x-gzip',
      'content-disposition': `attachment; filename=${filename}`,
    };
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    await streamArchive(res, repo, format, sha, headers);
  };

  const streamArchive = (
    res: ServerResponse,
    repo: LocalRepository,
    format: ArchiveFormat,
    sha: string,
    headers: Record<string, string>,
  ): Promise<void> =>
    new Promise((resolve) => {
      const started = Date.now();
      const child = spawnArchive(repo, sha, format);
      const log = logger.child({ owner: repo.owner, repo: repo.name, sha, format });
      let held: Buffer[] = [];
      let heldBytes = 0;
      let sent = 0;
      let committed = false;
      let done = false;
      let stderr = '';

      const commit = (): void => {
        committed = true;
        res.writeHead(200, headers);
        for (const chunk of held) res.write(chunk);
        held = [];
      };
      const finish = (ok: boolean, reason?: string): void => {
        if (done) return;
        done = true;
        if (ok) {
          if (!committed) {
            res.writeHead(200, { ...headers, 'content-length': heldBytes });
            res.end(Buffer.concat(held));
          } else res.end();
          log.info({ bytes: sent, ms: Date.now() - started }, 'Served archive');
        } else if (!res.destroyed) {
          log.warn({ reason, stderr: stderr.trim(), bytesSent: committed ? sent : 0 }, 'git archive failed');
          // Before the headers: a clean 500. After: break the connection so the client cannot take
          // a short archive for a whole one.
          if (committed) res.destroy();
          else serverError(res);
        }
        resolve();
      };

      child.stdout.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (!committed) {
          held.push(chunk);
          heldBytes += chunk.length;
          if (heldBytes >= HOLD_BACK_BYTES) commit();
          return;
        }
        if (!res.write(chunk)) {
          child.stdout.pause();
          res.once('drain', () => child.stdout.resume());
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString('utf8');
      });
      child.on('error', (err) => finish(false, err.message));
      child.on('close', (code, signal) => finish(code === 0, signal ? `ended by ${signal}` : `exit code ${String(code)}`));
      res.on('close', () => {
        if (!done) {
          // The client went away: stop git and do not wait for it to notice the broken pipe.
          log.debug({ bytesSent: sent }, 'archive download abandoned by the client');
          done = true;
          child.kill('SIGKILL');
          resolve();
        }
      });
    });

  const route = async (req: IncomingMessage, res: ServerResponse, segments: Segments): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return notFound(res);
    const [first, owner = '', name = '', kind, ...rest] = segments;
    if (segments.length === 0) {
      return sendJson(res, 200, {
        current_user_url: null,
        repository_url: `${selfOrigin(req)}${prefix}/repos/{owner}/{repo}`,
        rate_limit_url: `${selfOrigin(req)}${prefix}/rate_limit`,
      });
    }
    if (first === 'rate_limit' && segments.length === 1) {
      const core = { limit: 5000, remaining: 5000, reset: Math.floor(Date.now() / 1000) + 3600, used: 0, resource: 'core' };
      return sendJson(res, 200, { resources: { core }, rate: core });
    }
    if (first !== 'repos' && first !== '_codeload') return notFound(res);
    if (segments.length < 3) return notFound(res);
    const repo = await openRepository(reposDir, owner, name);
    if (!repo) return notFound(res);

    if (first === '_codeload') {
      const format = kind === 'legacy.tar.gz' ? 'tar.gz' : kind === 'legacy.zip' ? 'zip' : undefined;
      if (!format || rest.length !== 1) return notFound(res);
      return archive(req, res, repo, format, rest[0] ?? '');
    }
    if (kind === undefined) return repoJson(res, repo);
    const ref = rest.join('/');
    if (kind === 'tarball' || kind === 'zipball') return redirect(req, res, repo, kind, ref === '' ? 'HEAD' : ref);
    if (kind === 'commits' && ref !== '') return commitJson(req, res, repo, ref);
    return notFound(res);
  };

  return async (req, res) => {
    const rawUrl = req.url ?? '';
    const segments = routeSegments(rawUrl, prefix);
    if (segments === undefined) return false;
    logger.debug({ method: req.method, path: clip(pathOf(rawUrl)) }, 'GitHub request');
    if (opts.webhook && (await opts.webhook(req, res))) return true;
    if (segments === 'malformed') {
      notFound(res);
      return true;
    }
    try {
      await route(req, res, segments);
    } catch (err) {
      const detail = err instanceof GitCommandError ? { err: err.message, exitCode: err.exitCode, stderr: err.stderr } : { err };
      logger.error({ ...detail, method: req.method, path: clip(pathOf(rawUrl)) }, 'GitHub request failed');
      serverError(res);
    }
    return true;
  };
}
