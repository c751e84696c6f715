// The `caskdb` command line: dispatches the first word to a subcommand module, loaded lazily so that
// `caskdb get` does not pay for loading the server or the ZooKeeper client. Exit codes: 0 success,
// 1 a failed check or operation, 2 a usage error.
import { runCommand } from './dispatch.js';

process.exitCode = await runCommand(process.argv.slice(2));
