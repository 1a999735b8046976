/**
 * The sd_notify datagram sent by the agent process itself, through node:ffi (docs/design.md
 * section 8, README "The service"). Node has unix stream sockets (node:net) but no unix datagram
 * sockets, and the agent ships without native addons. Node 26, which the release embeds, has the
 * experimental node:ffi: with it we call libc socket(2) and connect(2) once, and send each message
 * with write(2) on the connected socket (fs.writeSync). The kernel attaches the sender's
 * credentials - this process's PID - so the unit can say NotifyAccess=main and a hook script in
 * the service's cgroup cannot pose as the agent.
 *
 * - The socket is SOCK_CLOEXEC (hooks never inherit it) and SOCK_NONBLOCK (a manager that stopped
 *   reading makes a send fail with EAGAIN instead of blocking the event loop).
 * - NOTIFY_SOCKET is a path (`/run/systemd/notify`) or an abstract name (`@name`). Anything else
 *   (systemd's `vsock:` addresses) is left to the systemd-notify binary, like a Node without
 *   node:ffi (Node 20-24 on the npm route): sd-notify.ts falls back to it.
 * - node:ffi prints an ExperimentalWarning when it loads; common/node-ffi.ts swallows that one.
 * - Errors carry the errno name when libc tells (__errno_location), like Node's own errors.
 */
import { closeSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { errnoReader, loadNodeFfi, type FfiModule } from '../../common/node-ffi.js';

export { loadNodeFfi };

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
// Linux values, the same on x64 and arm64 (the two architectures the agent ships for).
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
/** sizeof(struct sockaddr_un): sa_family_t (2 bytes) + sun_path[108]. */
const SOCKADDR_UN_SIZE = 110;
const SUN_PATH_SIZE = 108;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, address: bigint, length: number): number;
  errno(): number | undefined;
}

/** Why the ffi route cannot be used at all (the caller falls back to the systemd-notify binary). */
export class FfiUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FfiUnavailableError';
  }
}

/** A send or connect that failed; `code` is the errno name when known (ENOENT, ECONNREFUSED, EAGAIN, ...). */
export class NotifySendError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'NotifySendError';
  }
}

export interface NotifyDatagramSocket {
  /** The descriptor (tests check that children do not inherit it). */
  readonly fd: number;
  /** Sends one datagram; reconnects once when the manager's socket was re-created. Throws NotifySendError. */
  send(message: string): void;
  close(): void;
}

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

function bindLibc(ffi: FfiModule): Libc {
  const { functions: f } = ffi.dlopen(null, {
    socket: { arguments: ['int32', 'int32', 'int32'], return: 'int32' },
    connect: { arguments: ['int32', 'pointer', 'uint32'], return: 'int32' },
    __errno_location: { arguments: [], return: 'pointer' },
  });
  const socket = f.socket;
  const connect = f.connect;
  const errnoLocation = f.__errno_location;
  if (!socket || !connect) throw new Error('libc has no socket() or connect()');
  return {
    socket: (domain, type, protocol) => Number(socket(domain, type, protocol)),
    connect: (fd, address, length) => Number(connect(fd, address, length)),
    errno: errnoReader(ffi, errnoLocation),
  };
}

/**
 * struct sockaddr_un for NOTIFY_SOCKET and the length to pass to connect(), or the reason it
 * cannot be used: an abstract name (`@x`: sun_path[0] is NUL, no terminator) or an absolute path
 * (NUL-terminated). Exported for tests.
 */
export function notifyAddress(address: string): { sockaddr: Buffer; length: number } | { unsupported: string } | { invalid: string } {
  if (address.includes('\0')) return { invalid: 'NOTIFY_SOCKET contains a NUL byte' };
  let name: Buffer;
  if (address.startsWith('@')) {
    name = Buffer.concat([Buffer.from([0]), Buffer.from(address.slice(1), 'utf8')]);
    if (name.length > SUN_PATH_SIZE)
      return {
        invalid: `the abstract socket name ${address} is ${name.length} bytes, more than the ${SUN_PATH_SIZE} a unix socket address holds`,
      };
  } else if (address.startsWith('/')) {
    name = Buffer.from(`${address}\0`, 'utf8');
    if (name.length > SUN_PATH_SIZE)
      return {
        invalid: `the socket path ${address} is ${name.length - 1} bytes, longer than the ${SUN_PATH_SIZE - 1} a unix socket address holds`,
      };
  } else {
    return { unsupported: `NOTIFY_SOCKET ${address} is neither a path nor an abstract name (@name)` };
  }
  const sockaddr = Buffer.alloc(SOCKADDR_UN_SIZE);
  sockaddr.writeUInt16LE(AF_UNIX, 0);
  name.copy(sockaddr, 2);
  return { sockaddr, length: 2 + name.length };
}

/**
 * Opens the AF_UNIX datagram socket connected to `address`. Throws FfiUnavailableError when node:ffi
 * (or libc through it) cannot be used, NotifySendError when the address is invalid or connect fails.
 */
export function openNotifyDatagram(address: string, loadFfi: () => FfiModule | undefined = loadNodeFfi): NotifyDatagramSocket {
  const target = notifyAddress(address);
  if ('unsupported' in target) throw new FfiUnavailableError(target.unsupported);
  if ('invalid' in target) throw new NotifySendError(target.invalid, 'EINVAL');
  let ffi: FfiModule | undefined;
  let libc: Libc;
  try {
    ffi = loadFfi();
    if (!ffi) throw new Error(`this Node.js (${process.version}) has no node:ffi`);
    libc = bindLibc(ffi);
  } catch (err) {
    throw new FfiUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  const lib = libc;
  const ffiModule = ffi;
  const failure = (what: string): NotifySendError => {
    const n = lib.errno();
    const code = n === undefined ? undefined : errnoNames.get(n);
    return new NotifySendError(`${what} ${address} failed${code ? ` (${code})` : ''}`, code);
  };

  const open = (): number => {
    const fd = lib.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw failure('socket() for');
    // The Buffer stays referenced (target) for the duration of the call.
    if (lib.connect(fd, ffiModule.getRawPointer(target.sockaddr), target.length) !== 0) {
      const error = failure('connect() to');
      closeSync(fd);
      throw error;
    }
    return fd;
  };

  let fd = open();
  const write = (message: Buffer): void => {
    try {
      writeSync(fd, message);
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new NotifySendError(`sending to ${address} failed${code ? ` (${code})` : ''}`, code);
    }
  };
  return {
    get fd() {
      return fd;
    },
    send(message) {
      const data = Buffer.from(message, 'utf8');
      try {
        write(data);
      } catch (err) {
        // The manager re-created its socket (daemon-reexec): our connection points at the old one.
        const code = (err as NotifySendError).code;
        if (code !== 'ECONNREFUSED' && code !== 'ENOTCONN' && code !== 'ENOENT') throw err;
        const next = open();
        try {
          closeSync(fd);
        } catch {
          // already gone
        }
        fd = next;
        write(data);
      }
    },
    close() {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}
