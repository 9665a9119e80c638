/** The proxy and control-plane images, built from images/ for the nodes' architecture and pushed to ECR by `cdk deploy`. */
import * as path from 'node:path';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';

const ROOT = path.join(__dirname, '..');

export class MeshImages extends Construct {
  readonly proxy: DockerImageAsset;
  readonly control: DockerImageAsset;

  constructor(scope: Construct, id: string, props: { arm64: boolean }) {
    super(scope, id);
    const platform = props.arm64 ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64;
    // The context is the project root; .dockerignore lets only build/ and images/ in.
    this.proxy = new DockerImageAsset(this, 'Proxy', { directory: ROOT, file: 'images/proxy/Dockerfile', platform });
    this.control = new DockerImageAsset(this, 'Control', { directory: ROOT, file: 'images/control/Dockerfile', platform });
  }
}
