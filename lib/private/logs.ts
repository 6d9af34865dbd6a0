// One removal policy for every log group of the stack. RETAIN: logs are the record of who called what and
// what ran (access logs, execution logs, function and state machine logs), and a reviewer may need them
// after the stack is gone; each group has a retention, so a retained group still empties itself.
// The one exception is a group whose name AWS dictates and that AWS would create again itself (a SageMaker
// endpoint's /aws/sagemaker/Endpoints/<endpoint>): retained, it would block re-creating the stack with the
// same endpoint name, as CloudFormation cannot adopt an existing log group (see SagemakerModel).
import { RemovalPolicy } from 'aws-cdk-lib';

export const LOG_GROUP_REMOVAL_POLICY = RemovalPolicy.RETAIN;
