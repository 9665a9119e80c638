/**
 * The mesh's images as CDK Docker image assets: the proxy and the control plane, and on request the
 * bookinfo example's apps. Each Dockerfile builds its own bundle (images/), so `cdk deploy` needs
 * nothing built beforehand, from this repository or from the installed package.
 */
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { DOCKERFILES, IMAGE_CONTEXT } from './image-context';

export interface MeshImagesProps {
  /** Build for arm64 (Graviton) nodes instead of x86-64. */
  readonly arm64: boolean;
}

export class MeshImages extends Construct {
  readonly proxy: DockerImageAsset;
  readonly control: DockerImageAsset;
  private readonly platform: Platform;
  private bookinfoAsset?: DockerImageAsset;

  constructor(scope: Construct, id: string, props: MeshImagesProps) {
    super(scope, id);
    this.platform = props.arm64 ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64;
    this.proxy = this.asset('Proxy', DOCKERFILES.proxy);
    this.control = this.asset('Control', DOCKERFILES.control);
  }

  /**
   * The bookinfo example's image, added to the stack's assets on first use, so a stack that runs
   * only its own workloads builds and pushes no example image.
   */
  get bookinfo(): DockerImageAsset {
    this.bookinfoAsset ??= this.asset('Bookinfo', DOCKERFILES.bookinfo);
    return this.bookinfoAsset;
  }

  private asset(id: string, file: string): DockerImageAsset {
    // .dockerignore in the context lets in only what the Dockerfiles copy, so the staged asset stays small.
    return new DockerImageAsset(this, id, { directory: IMAGE_CONTEXT, file, platform: this.platform });
  }
}
