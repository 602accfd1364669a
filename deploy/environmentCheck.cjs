// A local osls plugin: after the functions are compiled into CloudFormation, refuses a function
// whose environment passes Lambda's 4 KB limit (deploy/environment.ts), with one line and exit 1,
// as a stage-file mistake is reported (deploy/serverless.cjs). Without it, the deploy would fail.
class RotorEnvironmentCheck {
  constructor(serverless) {
    this.hooks = {
      'before:package:finalize': async () => {
        const { tsImport } = await import('tsx/esm/api');
        const { environmentProblem } = await tsImport('./environment.ts', __filename);
        const resources = serverless.service.provider.compiledCloudFormationTemplate.Resources;
        for (const resource of Object.values(resources)) {
          if (resource.Type !== 'AWS::Lambda::Function') continue;
          const variables = resource.Properties.Environment?.Variables ?? {};
          const problem = environmentProblem(resource.Properties.FunctionName, variables);
          if (problem !== undefined) {
            process.stderr.write(
              `rotor: deploy/stages/${serverless.service.provider.stage}.yml: ${problem}\n`,
            );
            process.exit(1);
          }
        }
      },
    };
  }
}

module.exports = RotorEnvironmentCheck;
