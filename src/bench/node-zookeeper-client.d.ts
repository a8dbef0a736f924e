/**
 * The part of node-zookeeper-client (no bundled types) that the ZooKeeper driver uses, including
 * the internals it reaches for to send a SYNC, which the library has no method for.
 */
declare module 'node-zookeeper-client' {
  // Types only: merges with the const below, so `import type { Client }` works with `export =`.
  namespace zookeeper {
    interface ZkError extends Error {
      getCode(): number;
    }
    type Callback<T> = (error: ZkError | null, result: T) => void;
    interface JuteRecord {
      byteLength(): number;
      serialize(buffer: Buffer, offset: number): number;
      setChrootPath?(path: string): void;
      [field: string]: unknown;
    }
    interface JuteRequest {
      header: { type: number; xid: number };
      payload: JuteRecord | null;
      toBuffer(): Buffer;
    }
    interface ConnectionManager {
      queue(request: JuteRequest, callback: (error: ZkError | null) => void): void;
      connect(): void;
      socket?: { destroy(): void };
    }
    interface Client {
      connect(): void;
      close(): void;
      once(event: 'connected' | 'disconnected' | 'expired', cb: () => void): this;
      on(event: 'state', cb: (state: unknown) => void): this;
      create(path: string, data: Buffer | null, mode: number, cb: Callback<string>): void;
      setData(path: string, data: Buffer | null, version: number, cb: Callback<unknown>): void;
      getData(path: string, cb: (error: ZkError | null, data: Buffer | undefined, stat: unknown) => void): void;
      exists(path: string, cb: Callback<unknown>): void;
      connectionManager: ConnectionManager;
    }
  }
  const zookeeper: {
    createClient(connectionString: string, options?: { sessionTimeout?: number; spinDelay?: number; retries?: number }): zookeeper.Client;
    CreateMode: { PERSISTENT: number };
    Exception: { NODE_EXISTS: number; NO_NODE: number };
  };
  export = zookeeper;
}

