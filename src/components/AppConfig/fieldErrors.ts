import { FieldError } from '../../api/types';

/** Looks up the message for one jsonData field path ("ollama.model"), if any. */
export function errorLookup(errors: FieldError[]) {
  return (field: string): string | undefined => errors.find((e) => e.field === field)?.message;
}
