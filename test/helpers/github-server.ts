/**
 * A local GitHub-compatible archive server for tests: a real HTTP server on 127.0.0.1, port 0.
 *
 *   const gh = await startGitHubServer({ repos: { 'octo/app': '/tmp/some-git-repo' } });
 *   gh.apiUrl                    // http://127.0.0.1:<port>, the GitHub API base URL
 *   gh.fail({ status: 502 }, { status: 502 });   // the next two matching requests fail
 *   gh.requests                  // every request: method, path, kind, authorization, status
 *   await gh.close();
 *
 * Like GitHub, `GET /repos/{owner}/{repo}/tarball/{ref}` and `/zipball/{ref}` answer 302 to the
 * codeload path `/codeload/{owner}/{repo}/legacy.tar.gz/{ref}` (or `legacy.zip`) on the same
 * server, which streams `git archive` of the resolved commit with the prefix
 * `<owner>-<repo>-<7-char sha>/`. An unknown repository or ref is a 404 with GitHub's JSON body.
 *
 * Injected failures are queued and used in order by the next request they match (`on`: 'api', the
 * default, or 'codeload'): an HTTP status, a dropped connection, or a body cut off after N bytes.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type InjectedFailure =
  | { status: number; message?: string; headers?: Record<string, string>; on?: 'api' | 'codeload' }
  /** Close the connection without an answer. */
  | { destroy: true; on?: 'api' | 'codeload' }
  /** Codeload only: send the full Content-Length but only this many bytes, then drop the connection. */
  | { truncateAfterBytes: number; on?: 'codeload' };

export interface RecordedGitHubRequest {
  method: string;
  path: string;
  kind: 'api' | 'codeload' | 'other';
  /** The Authorization header as received, if any. */
  authorization?: string;
  userAgent?: string;
  /** The status answered (0 for a dropped connection). */
  status: number;
}

export interface GitHubServer {
  apiUrl: string;
  requests: RecordedGitHubRequest[];
  /** Queue failures for the next matching requests. */
  fail(...failures: InjectedFailure[]): void;
  close(): Promise<void>;
}

export interface GitHubServerOptions {
  /** 'owner/repo' -> path of a git repository (work tree or bare). */
  repos: Record<string, string>;
}

async function resolveCommit(repoDir: string, ref: string): Promise<string | undefined> {
  if (ref.startsWith('-')) return undefined;
  try {
    const { stdout } = await execFileAsync('git', ['-C', repoDir, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

function archiveArgs(repoDir: string, format: 'tar.gz' | 'zip', owner: string, repo: string, sha: string): string[] {
  return ['-C', repoDir, 'archive', `--format=${format}`, `--prefix=${owner}-${repo}-${sha.slice(0, 7)}/`, sha];
}

async function archiveBuffer(args: string[]): Promise<Buffer> {
  const { stdout } = await execFileAsync('git', args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

export async function startGitHubServer(options: GitHubServerOptions): Promise<GitHubServer> {
  const requests: RecordedGitHubRequest[] = [];
  const queue: InjectedFailure[] = [];

  const takeFailure = (kind: 'api' | 'codeload'): InjectedFailure | undefined => {
    const index = queue.findIndex((f) => (f.on ?? 'api') === kind);
    return index < 0 ? undefined : queue.splice(index, 1)[0];
  };

  const notFound = (res: http.ServerResponse): number => {
    const body = JSON.stringify({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar',
      status: '404',
    });
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return 404;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, record: RecordedGitHubRequest): Promise<void> => {
    const path = record.path.split('?')[0] ?? '';
    const api = /^\/repos\/([^/]+)\/([^/]+)\/(tarball|zipball)\/(.+)$/.exec(path);
    const codeload = /^\/codeload\/([^/]+)\/([^/]+)\/legacy\.(tar\.gz|zip)\/(.+)$/.exec(path);
    record.kind = api ? 'api' : codeload ? 'codeload' : 'other';
    if (req.method !== 'GET' || (!api && !codeload)) {
      record.status = notFound(res);
      return;
    }
    const failure = takeFailure(api ? 'api' : 'codeload');
    if (failure && 'destroy' in failure) {
      record.status = 0;
      req.socket.destroy();
      return;
    }
    if (failure && 'status' in failure) {
      const body = JSON.stringify({ message: failure.message ?? http.STATUS_CODES[failure.status] ?? 'Error' });
      res.writeHead(failure.status, { 'content-type': 'application/json; charset=utf-8', ...failure.headers });
      res.end(body);
      record.status = failure.status;
      return;
    }
    const [, owner = '', repo = '', kind = '', rawRef = ''] = (api ?? codeload) as RegExpExecArray;
    const ref = decodeURIComponent(rawRef);
    const repoDir = options.repos[`${decodeURIComponent(owner)}/${decodeURIComponent(repo)}`];
    const sha = repoDir ? await resolveCommit(repoDir, ref) : undefined;
    if (!repoDir || !sha) {
      record.status = notFound(res);
      return;
    }
    if (api) {
      const format = kind === 'zipball' ? 'zip' : 'tar.gz';
      const host = req.headers.host ?? '127.0.0.1';
      res.writeHead(302, { location: `http://${host}/codeload/${owner}/${repo}/legacy.${format}/${rawRef}`, 'content-length': 0 });
      res.end();
      record.status = 302;
      return;
    }
    const format = kind === 'zip' ? 'zip' : 'tar.gz';
    const args = archiveArgs(repoDir, format, owner, repo, sha);
    const name = `${owner}-${repo}-${sha.slice(0, 7)}.${format}`;
    const headers = {
      'content-type': format === 'zip' ? 'application/zip' : 'application/x-gzip',
      'content-disposition': `attachment; filename=${name}`,
    };
    if (failure && 'truncateAfterBytes' in failure) {
      const data = await archiveBuffer(args);
      res.writeHead(200, { ...headers, 'content-length': data.length });
      res.write(data.subarray(0, Math.min(failure.truncateAfterBytes, data.length - 1)), () => {
        setTimeout(() => req.socket.destroy(), 20);
      });
      record.status = 200;
      return;
    }
    // Stream the archive as git writes it (chunked, like codeload).
    res.writeHead(200, headers);
    record.status = 200;
    const child = spawn('git', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.pipe(res);
    child.on('error', () => res.destroy());
    res.on('close', () => child.kill());
  };

  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    const record: RecordedGitHubRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      kind: 'other',
      ...(auth !== undefined ? { authorization: auth } : {}),
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
      status: 0,
    };
    requests.push(record);
    handle(req, res, record).catch(() => {
      record.status = 500;
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}`,
    requests,
    fail: (...failures) => queue.push(...failures),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Makes a git repository in `dir` with one commit of `files` (relative path -> content) and returns
 * the commit sha. Identity and config come from the command line, not the user's git config.
 */
export async function createTestGitRepo(dir: string, files: Record<string, string>): Promise<string> {
  const git = (...args: string[]): Promise<{ stdout: string }> =>
    execFileAsync('git', ['-C', dir, '-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], {
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    });
  await mkdir(dir, { recursive: true });
  await git('init', '--quiet', '--initial-branch=main');
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
  await git('add', '--all');
  await git('commit', '--quiet', '-m', 'test revision');
  const { stdout } = await git('rev-parse', 'HEAD');
  return stdout.trim();
}
