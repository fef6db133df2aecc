"""The AWS account the flows act in."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from prefect import task

from tasks.aws import ServiceResult
from tasks.connections import Target


class AccountError(RuntimeError):
    pass


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=lambda _task, _run, state: not isinstance(
    state.result(raise_on_failure=False), AccountError))
def check_account(target: Target, region: str) -> ServiceResult:
    """STS GetCallerIdentity: proves the credentials work, in the configuration's `region`, before anything is
    created."""
    try:
        identity = target.client("sts").get_caller_identity()
    except NoCredentialsError:
        raise AccountError("no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                           "AWS_PROFILE") from None
    except (ClientError, BotoCoreError) as exc:
        raise AccountError(f"the AWS credentials do not work: {exc}") from None
    if target.region != region:
        raise AccountError(f"the target's region is {target.region}, the configuration's {region}: set "
                           f"AWS_REGION={region} or change region")
    return ServiceResult(service="account", name=identity["Arn"], id=identity["Account"],
                         status=f"region {target.region}", action="found")
