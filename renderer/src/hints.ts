// The hints live in main/shared (pure data), where the test that walks the engine's error codes can read them.
export { HINTS, hintFor } from '../../main/shared/hints';
