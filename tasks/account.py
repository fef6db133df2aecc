"""The AWS account the flows act in."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from prefect import task

from tasks.connections import Target


class AccountError(RuntimeError):
    pass


@task(retries=2, retry_delay_seconds=2)
def check_aws_identity(target: Target) -> dict[str, str]:
    """STS GetCallerIdentity: proves the credentials work before anything is created."""
    try:
        identity = target.client("sts").get_caller_identity()
    except NoCredentialsError:
        raise AccountError("no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE") from None
    except (ClientError, BotoCoreError) as exc:
        raise AccountError(f"the AWS credentials do not work: {exc}") from None
    return {"account": identity["Account"], "arn": identity["Arn"], "region": target.region}
