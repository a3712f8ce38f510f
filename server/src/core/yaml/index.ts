// Generic YAML language-service helpers, shared by the fine-tune config and the Datanet manifest.
export { LineIndex } from './lineIndex';
export { parseYaml, syntaxFindings } from './parse';
export type { ParsedYaml } from './parse';
export { documentStartRange, findPair, keyText, locatePath, nodeSpan, pathAtOffset, rangeOfPath } from './paths';
export type { OffsetLocation, PathLocation, YamlPath } from './paths';
export { validateYaml } from './validate';
export type { YamlValidationOptions } from './validate';
export { collectSuppressions, filterSuppressed, isSuppressed } from './suppression';
export type { Suppressions } from './suppression';
export { closestMatch, editDistance, nearestMatch } from './didYouMean';
