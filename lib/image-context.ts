/**
 * Where the images are built from: the directory holding images/, which is the repository's root
 * or the installed package's root. No CDK import, so the CLI (`mast images`) can use it cheaply.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The Dockerfile of each image, relative to the build context. */
export const DOCKERFILES = {
  proxy: 'images/proxy/Dockerfile',
  control: 'images/control/Dockerfile',
  bookinfo: 'images/bookinfo/Dockerfile',
} as const;

/** The nearest directory at or above `from` holding images/proxy/Dockerfile: lib/ runs from the source and from out/lib/. */
export function imageContext(from: string, exists: (file: string) => boolean = existsSync): string {
  for (let dir = from, i = 0; i < 8; i++, dir = path.dirname(dir)) {
    if (exists(path.join(dir, DOCKERFILES.proxy))) return dir;
  }
  throw new Error(`MAST_IMAGES_MISSING: no ${DOCKERFILES.proxy} at or above ${from}; the package is incomplete`);
}

/** The images' build context for this copy of mast. */
export const IMAGE_CONTEXT = imageContext(__dirname);
