/** The tool version written into manifests and shown by `atlas --version`. */
import packageJson from '../../package.json';

export const VERSION: string = packageJson.version;
