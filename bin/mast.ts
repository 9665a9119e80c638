/**
 * The AWS CDK app named in cdk.json: one MeshEnvironmentStack per environment in the
 * `mast:environments` context (see cdk.json), each running the bundled bookinfo example.
 */
import { App } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { environmentsFromContext } from '../lib/config';
import { MeshEnvironmentStack } from '../lib/mesh-environment-stack';
import { acknowledgeNagFindings } from '../lib/nag';
import { addBookinfo } from '../examples/bookinfo/bookinfo';

const app = new App();
for (const config of environmentsFromContext(app.node.tryGetContext('mast:environments'))) {
  const stack = new MeshEnvironmentStack(app, `mast-${config.envName}`, { config, populate: addBookinfo });
  acknowledgeNagFindings(stack);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
