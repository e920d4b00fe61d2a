/**
 * What a restore is for (roll back this device / deploy to new devices), each with the sentence that says what
 * it does, and for a deploy the hostname pattern with a live preview of every chosen card's hostname. The names
 * and the checks are the ones main applies (shared/restore-intents, shared/hostnames).
 */
import type { Drive, RestoreIntent } from '../../../main/contract';
import { INTENT_NAMES, INTENT_SENTENCES } from '../../../main/shared/restore-intents';
import {
  HOSTNAME_RULE,
  batchNames,
  givenBefore,
  hostnamePatternProblem,
  hostnamesFor,
  type GivenHostname,
} from '../../../main/shared/hostnames';
import { cardName } from './CardProgressList';

const INTENTS: RestoreIntent[] = ['deploy', 'exact'];

/** Why the pattern cannot name these cards (the sentence main would refuse with), or null. */
export function hostnameProblem(
  pattern: string,
  cards: readonly Drive[],
  given: readonly GivenHostname[],
): string | null {
  const problem = hostnamePatternProblem(pattern);
  if (problem || cards.length === 0) return problem;
  try {
    hostnamesFor(
      pattern,
      cards.map((c) => c.serial),
      given,
    );
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export function DeployOptions({
  intent,
  onIntent,
  pattern,
  onPattern,
  cards,
  given,
  disabled,
}: {
  intent: RestoreIntent;
  onIntent(intent: RestoreIntent): void;
  pattern: string;
  onPattern(pattern: string): void;
  /** the chosen cards, in the order chosen */
  cards: readonly Drive[];
  /** the hostnames earlier deploys gave (the build folder's record): the numbering goes on from them */
  given: readonly GivenHostname[];
  disabled: boolean;
}) {
  const problem = intent === 'deploy' ? hostnameProblem(pattern, cards, given) : null;
  const patternOk = hostnamePatternProblem(pattern) === null;
  const names = batchNames(
    pattern,
    cards.map((c) => c.serial),
    given,
  );
  const notes = problem
    ? []
    : givenBefore(
        names,
        cards.map((c) => c.serial),
        given,
      );
  return (
    <>
      <fieldset className="intent-choice" data-testid="restore-intent" disabled={disabled}>
        <legend className="field-label">What is this restore for?</legend>
        {INTENTS.map((i) => (
          <label key={i} className={`intent-option${intent === i ? ' drive-selected' : ''}`}>
            <input
              type="radio"
              name="restore-intent"
              checked={intent === i}
              onChange={() => onIntent(i)}
              aria-describedby={`intent-${i}-says`}
              data-testid={`restore-intent-${i}`}
            />
            <span>
              <span className="drive-name">{INTENT_NAMES[i]}</span>
              <span id={`intent-${i}-says`} className="drive-meta">
                {INTENT_SENTENCES[i]}
              </span>
            </span>
          </label>
        ))}
      </fieldset>
      {intent === 'deploy' && (
        <div className="hostname-field">
          <label className="field">
            <span className="field-label">Hostname pattern</span>
            <input
              type="text"
              value={pattern}
              onChange={(e) => onPattern(e.target.value)}
              disabled={disabled}
              spellCheck={false}
              aria-invalid={problem !== null}
              aria-describedby="hostname-help"
              data-testid="restore-hostname"
            />
          </label>
          <p
            id="hostname-help"
            className={problem ? 'field-error' : 'muted'}
            data-testid="restore-hostname-help"
          >
            {problem ??
              `{n} numbers the cards in the order you chose them, on from the highest this pattern gave before ({n:03} pads to 001); {serial} is the card's serial; ${HOSTNAME_RULE}.`}
          </p>
          {cards.length > 0 && patternOk && (
            <table className="table hostname-preview" data-testid="restore-hostname-preview">
              <caption className="field-label">Each card's hostname</caption>
              <tbody>
                {cards.map((c, i) => (
                  <tr key={c.device} data-testid={`restore-hostname-${c.device}`}>
                    <td>
                      {i + 1}. {cardName(c.device, cards)}
                      {c.serial ? <span className="path-small"> S/N {c.serial}</span> : null}
                    </td>
                    <td>
                      <code>{names[i] || '—'}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {notes.length > 0 && (
            <p className="notice notice-warn" data-testid="restore-hostname-given">
              {notes.join(' ')} Two kiosks with one name clash on the network; change the pattern unless this
              card replaces that one.
            </p>
          )}
        </div>
      )}
    </>
  );
}
