"""A user's own tool on the playground: botocore (the AWS SDK for Python's
core) configured only by the variables of `cpsf local up`'s env file.

It runs a pipeline through the job-worker API (action type, pipeline, job
polled, acknowledged and answered) and a CloudFormation deploy, then
prints "ok". tests/playground/local_up.rs runs it on each emulator.
"""
import io
import os
import zipfile

import botocore.config
import botocore.exceptions
import botocore.session
from waiting import wait

session = botocore.session.get_session()
path_style = botocore.config.Config(s3={"addressing_style": "path"})
s3 = session.create_client("s3", config=path_style)
codepipeline = session.create_client("codepipeline")
cloudformation = session.create_client("cloudformation")


source = io.BytesIO()
with zipfile.ZipFile(source, "w") as archive:
    archive.writestr("deploy.json", "{}")
for bucket in ("py-source", "py-artifacts"):
    s3.create_bucket(Bucket=bucket)
s3.put_bucket_versioning(Bucket="py-source", VersioningConfiguration={"Status": "Enabled"})
s3.put_object(Bucket="py-source", Key="app.zip", Body=source.getvalue())

action_type = {"category": "Deploy", "owner": "Custom", "provider": "PyDeploy", "version": "1"}
codepipeline.create_custom_action_type(
    category="Deploy",
    provider="PyDeploy",
    version="1",
    inputArtifactDetails={"minimumCount": 1, "maximumCount": 1},
    outputArtifactDetails={"minimumCount": 0, "maximumCount": 0},
)
codepipeline.create_pipeline(
    pipeline={
        "name": "py",
        "roleArn": "arn:aws:iam::123456789012:role/py",
        "artifactStore": {"type": "S3", "location": "py-artifacts"},
        "stages": [
            {"name": "Source", "actions": [{
                "name": "Source",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                "configuration": {"S3Bucket": "py-source", "S3ObjectKey": "app.zip"},
                "outputArtifacts": [{"name": "Src"}],
            }]},
            {"name": "Deploy", "actions": [{
                "name": "Deploy",
                "actionTypeId": action_type,
                "inputArtifacts": [{"name": "Src"}],
            }]},
        ],
    }
)
execution = codepipeline.start_pipeline_execution(name="py")["pipelineExecutionId"]
job = wait("a job", lambda: (codepipeline.poll_for_jobs(actionTypeId=action_type, maxBatchSize=1)["jobs"] or [None])[0])
codepipeline.acknowledge_job(jobId=job["id"], nonce=job["nonce"])
codepipeline.put_job_success_result(jobId=job["id"], executionDetails={"summary": "done by botocore"})
wait("the pipeline to succeed", lambda: codepipeline.get_pipeline_execution(
    pipelineName="py", pipelineExecutionId=execution)["pipelineExecution"]["status"] == "Succeeded")

template = '{"Resources": {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/py/setting", "Type": "String", "Value": "py"}}}}'
cloudformation.create_stack(StackName="py-stack", TemplateBody=template)
wait("the stack", lambda: cloudformation.describe_stacks(StackName="py-stack")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE")

# Where the env file names AWS config files (MiniStack, checking IAM), the
# profile cpsf-worker assumes bootstrap/cpsf.yaml's worker role from them,
# and the role may not do what the template does not grant.
if os.environ.get("AWS_CONFIG_FILE"):
    worker = botocore.session.Session(profile="cpsf-worker")
    arn = worker.create_client("sts").get_caller_identity()["Arn"]
    assert arn.startswith("arn:aws:sts::123456789012:assumed-role/cpsf-worker/"), arn
    try:
        worker.create_client("cloudformation").delete_stack(StackName="py-stack")
        raise AssertionError("the worker role deleted a stack outside its prefix")
    except botocore.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDenied", error.response
print("ok")
