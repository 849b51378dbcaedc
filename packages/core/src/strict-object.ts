import { z } from 'zod';

/**
 * An object schema that refuses keys it does not know, naming the allowed ones: a misspelt setting
 * (`perround`, `roundDeadlineMS`) would otherwise be dropped silently and the run start with the default.
 */
export function strictObject<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; allowed: ${allowed}`
        : undefined,
  });
}
