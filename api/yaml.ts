/**
 * The YAML parser, loaded on first use: a proxy fed by mastd never parses YAML, and mast-proxy's
 * bundle keeps the parser in a file of its own (scripts/bundle.mjs), loaded only then.
 */
import type * as Yaml from 'yaml';

export const yamlLibrary = (): typeof Yaml => require('yaml') as typeof Yaml;
