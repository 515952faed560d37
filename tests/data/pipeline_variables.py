"""CodePipeline variables through boto3, configured only by the
playground's AWS_* variables: a V2 pipeline's variables with a default and
an override, the S3 source's ETag through its namespace, and the refusals
(ValidationException at StartPipelineExecution,
InvalidActionDeclarationException at CreatePipeline). The job is polled as
a worker polls it. tests/playground/pipeline_variables.rs runs it; it prints
"ok".
"""
import os
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError
from waiting import wait

s3 = boto3.client("s3", config=botocore.config.Config(s3={"addressing_style": "path"}))
codepipeline = boto3.client("codepipeline")
SOURCE_BUCKET, SOURCE_KEY = os.environ["SOURCE_BUCKET"], os.environ["SOURCE_KEY"]
ACTION_TYPE = {"category": "Deploy", "owner": "Custom", "provider": "PyVariables", "version": "1"}


def refused(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    sys.exit(f"{call.__name__} was not refused")


def pipeline(name, deploy_configuration):
    return {
        "name": name,
        "pipelineType": "V2",
        "roleArn": "arn:aws:iam::123456789012:role/py",
        "artifactStore": {"type": "S3", "location": os.environ["ARTIFACT_BUCKET"]},
        "variables": [{"name": "env", "defaultValue": "dev"}, {"name": "release"}],
        "stages": [
            {"name": "Source", "actions": [{
                "name": "Source",
                "namespace": "SourceVariables",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                "configuration": {"S3Bucket": SOURCE_BUCKET, "S3ObjectKey": SOURCE_KEY},
                "outputArtifacts": [{"name": "Src"}],
            }]},
            {"name": "Deploy", "actions": [{
                "name": "Deploy",
                "actionTypeId": ACTION_TYPE,
                "configuration": deploy_configuration,
                "inputArtifacts": [{"name": "Src"}],
            }]},
        ],
    }


codepipeline.create_custom_action_type(
    category="Deploy",
    provider="PyVariables",
    version="1",
    configurationProperties=[
        {"name": "Target", "required": True, "key": True, "secret": False},
    ],
    inputArtifactDetails={"minimumCount": 0, "maximumCount": 1},
    outputArtifactDetails={"minimumCount": 0, "maximumCount": 0},
)
target = "#{variables.env}/#{variables.release}/#{SourceVariables.ETag}"
codepipeline.create_pipeline(pipeline=pipeline("py-vars", {"Target": target}))

code, message = refused(codepipeline.start_pipeline_execution, name="py-vars")
assert code == "ValidationException", code
assert message == "Values for required variables haven't been provided: release", message
code, _ = refused(
    codepipeline.start_pipeline_execution,
    name="py-vars",
    variables=[{"name": "release", "value": "r1"}, {"name": "unknown", "value": "x"}],
)
assert code == "ValidationException", code

execution = codepipeline.start_pipeline_execution(
    name="py-vars", variables=[{"name": "release", "value": "r1"}]
)["pipelineExecutionId"]
job = wait("a job", lambda: (codepipeline.poll_for_jobs(actionTypeId=ACTION_TYPE, maxBatchSize=1)["jobs"] or [None])[0])
e_tag = s3.head_object(Bucket=SOURCE_BUCKET, Key=SOURCE_KEY)["ETag"].strip('"')
got = job["data"]["actionConfiguration"]["configuration"]["Target"]
assert got == f"dev/r1/{e_tag}", got
codepipeline.acknowledge_job(jobId=job["id"], nonce=job["nonce"])
codepipeline.put_job_success_result(jobId=job["id"])
wait("the pipeline to succeed", lambda: codepipeline.get_pipeline_execution(
    pipelineName="py-vars", pipelineExecutionId=execution)["pipelineExecution"]["status"] == "Succeeded")
variables = codepipeline.get_pipeline_execution(
    pipelineName="py-vars", pipelineExecutionId=execution)["pipelineExecution"]["variables"]
assert variables == [{"name": "env", "resolvedValue": "dev"}, {"name": "release", "resolvedValue": "r1"}], variables

code, message = refused(
    codepipeline.create_pipeline, pipeline=pipeline("py-bad", {"Target": "#{variables.nope}"})
)
assert code == "InvalidActionDeclarationException", code
assert message.startswith("The referenced variables haven't been declared."), message
code, message = refused(
    codepipeline.create_pipeline, pipeline=pipeline("py-bad", {"Target": "#{Build.Key}"})
)
assert code == "InvalidActionDeclarationException", code
assert "referencing a namespace that does not exist" in message, message
print("ok")
