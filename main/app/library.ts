/**
 * The Library page's listing: the engine's catalog of the build folder and the vault, mapped to the contract's DTOs.
 */
import type { LibraryListing, LibraryLocation, Settings } from '../contract';
import { listLibrary as listCatalog } from '../engine/library/catalog';
import { toLibraryEntry } from './adapters';

export async function listLibrary(settings: Settings): Promise<LibraryListing> {
  const listing = await listCatalog<LibraryLocation>([
    { location: 'build', path: settings.buildFolder },
    { location: 'vault', path: settings.vaultFolder },
  ]);
  return { entries: listing.entries.map(toLibraryEntry), unavailable: listing.unavailable };
}
