/**
 * Apple's XML property lists, as `diskutil -plist` and `ioreg -a` print them: dict, array, string, integer, real,
 * true, false, date and data. Enough of XML for that format (no attributes that matter, entities in text); anything
 * else is an error rather than a guess.
 */
import { AtlasError } from '../errors';

export type PlistValue = string | number | boolean | Date | Buffer | PlistValue[] | PlistDict;
export interface PlistDict {
  [key: string]: PlistValue;
}

interface Tag {
  name: string;
  /** <name/> */
  empty: boolean;
}

/** Parses the document's one top-level value. */
export function parsePlist(xml: string): PlistValue {
  const reader = new Reader(xml);
  reader.skipProlog();
  const open = reader.tag();
  if (open.name !== 'plist') return reader.value(open);
  const value = reader.value(reader.tag());
  reader.close('plist');
  return value;
}

class Reader {
  private at = 0;
  constructor(private readonly text: string) {}

  /** Skips `<?xml …?>`, `<!DOCTYPE …>`, comments and whitespace. */
  skipProlog(): void {
    for (;;) {
      this.skipSpace();
      if (this.text.startsWith('<?', this.at)) this.at = this.after('?>');
      else if (this.text.startsWith('<!--', this.at)) this.at = this.after('-->');
      else if (this.text.startsWith('<!', this.at)) this.at = this.after('>');
      else return;
    }
  }

  /** The next opening tag (`<name …>` or `<name/>`). */
  tag(): Tag {
    this.skipProlog();
    const m = /^<([A-Za-z]+)[^>]*?(\/?)>/.exec(this.text.slice(this.at, this.at + 200));
    if (!m) throw this.error('a tag');
    this.at += m[0].length;
    return { name: m[1]!, empty: m[2] === '/' };
  }

  close(name: string): void {
    this.skipProlog();
    const end = `</${name}>`;
    if (!this.text.startsWith(end, this.at)) throw this.error(end);
    this.at += end.length;
  }

  value(tag: Tag): PlistValue {
    switch (tag.name) {
      case 'dict':
        return this.dict(tag);
      case 'array':
        return this.array(tag);
      case 'true':
      case 'false':
        if (!tag.empty) this.close(tag.name);
        return tag.name === 'true';
      case 'string':
        return tag.empty ? '' : decode(this.textUntil('string'));
      case 'integer':
      case 'real': {
        const n = Number(this.textUntil(tag.name).trim());
        if (!Number.isFinite(n)) throw this.error(`a number in <${tag.name}>`);
        return n;
      }
      case 'date':
        return new Date(this.textUntil('date').trim());
      case 'data':
        return Buffer.from(tag.empty ? '' : this.textUntil('data').replace(/\s+/g, ''), 'base64');
      default:
        throw this.error(`a plist value, not <${tag.name}>`);
    }
  }

  private dict(tag: Tag): PlistDict {
    const dict: PlistDict = {};
    if (tag.empty) return dict;
    for (;;) {
      this.skipProlog();
      if (this.text.startsWith('</dict>', this.at)) {
        this.at += '</dict>'.length;
        return dict;
      }
      const key = this.tag();
      if (key.name !== 'key') throw this.error('<key>');
      const name = key.empty ? '' : decode(this.textUntil('key'));
      dict[name] = this.value(this.tag());
    }
  }

  private array(tag: Tag): PlistValue[] {
    const list: PlistValue[] = [];
    if (tag.empty) return list;
    for (;;) {
      this.skipProlog();
      if (this.text.startsWith('</array>', this.at)) {
        this.at += '</array>'.length;
        return list;
      }
      list.push(this.value(this.tag()));
    }
  }

  private textUntil(name: string): string {
    const end = this.text.indexOf(`</${name}>`, this.at);
    if (end < 0) throw this.error(`</${name}>`);
    const text = this.text.slice(this.at, end);
    this.at = end + name.length + 3;
    return text;
  }

  private after(marker: string): number {
    const end = this.text.indexOf(marker, this.at);
    if (end < 0) throw this.error(marker);
    return end + marker.length;
  }

  private skipSpace(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++;
  }

  private error(expected: string): AtlasError {
    return new AtlasError(
      'INTERNAL',
      `Cannot read a property list: expected ${expected} at character ${this.at}.`,
    );
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number(entity.slice(1)));
    return ENTITIES[entity] ?? whole;
  });
}
