// A stand-in for the AWS SDK's default credential chain in the Lambda bundles. Lambda always
// gives a function its role's credentials in the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the first link of the chain; the others (profiles,
// SSO, web identity, process, container and instance metadata) bring the STS/SSO clients and
// about 100 kB a bundle that a Lambda function never runs. The CLI and the tests are not
// bundled and keep the whole chain.
'use strict';

const { fromEnv } = require('@aws-sdk/credential-provider-env');

exports.defaultProvider = (init = {}) => fromEnv(init);
