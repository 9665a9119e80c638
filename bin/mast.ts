/** The AWS CDK app named in cdk.json. The environment stacks (EKS, NLB, Route 53) are issue #4. */
import { App } from 'aws-cdk-lib';

const app = new App();
app.synth();
