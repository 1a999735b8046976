/**
 * One HTTP surface of the control plane (S3, GitHub, the JSON APIs). The server asks each in turn;
 * a handler returns false when the request is not its own, or answers it and returns true.
 * Handlers never throw for bad input: they answer with their protocol's error shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
