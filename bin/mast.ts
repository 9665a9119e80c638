/**
 * The AWS CDK app named in cdk.json: one MeshEnvironmentStack per environment in the
 * `mast:environments` context (see cdk.json), each running the bundled bookinfo example.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, environmentsFromContext } from '../lib/config';
import { MeshEnvironmentStack } from '../lib/mesh-environment-stack';
import { acknowledgeNagFindings } from '../lib/nag';
import { EksV2Checks } from '../lib/nag-eks';
import { addBookinfo } from '../examples/bookinfo/bookinfo';

const app = new App();
let environments: ReturnType<typeof environmentsFromContext>;
try {
  environments = environmentsFromContext(app.node.tryGetContext('mast:environments'));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`mast: ${err.message}`);
  process.exit(1);
}
if (environments.length === 0) {
  // Else CDK's own "This app contains no stacks", which does not say where the stacks come from.
  console.error(
    'mast: MAST_CONFIG_INVALID: context "mast:environments" names no environment (cdk.json, or -c \'mast:environments={"dev":{...}}\')',
  );
  process.exit(1);
}
for (const config of environments) {
  // The example's apps run the image the stack builds and pushes (images/bookinfo), not a tag from no registry.
  const stack = new MeshEnvironmentStack(app, `mast-${config.envName}`, {
    config,
    populate: (mesh, images) => addBookinfo(mesh, images ? { image: images.bookinfo.imageUri } : {}),
  });
  acknowledgeNagFindings(stack);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new EksV2Checks(app));
app.synth();
