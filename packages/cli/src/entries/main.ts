// Every subcommand (--help, --version, or a name without an entry of its own).
import { main } from "../main.js";

await main(process.argv);
