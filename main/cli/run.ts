/** The executable entry of the CLI (bin/atlas.js loads this; tests spawn it from their own build). */
import { main } from './index';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
