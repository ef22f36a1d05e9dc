/**
 * One line saying why the server could not listen and what to do, for the errors a first start
 * meets; undefined for anything else (it is then thrown as it is).
 */
export function listenProblem(error: unknown, host: string, port: number): string | undefined {
  const code: string = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  const where = `${host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `pictor: ${where} is already in use (another Pictor, or another program, listens there); stop it or choose another port: --port ${port + 1} (or PICTOR_SERVER__PORT, server.port in pictor.yaml)`;
    case 'EACCES':
      return `pictor: not allowed to listen on ${where} (ports below 1024 need privileges); choose another port: --port 8080`;
    case 'EADDRNOTAVAIL':
      return `pictor: ${host} is not an address of this machine; use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface)`;
    default:
      return undefined;
  }
}
