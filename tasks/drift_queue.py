"""The drift events' SQS queue as the controller reads it: long polls, deletion once a message was handled, a message
handed back at once (the controller stopping), and a message that cannot be read moved to the dead-letter queue."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ack.trail import dead_letter_queue
from tasks.aws import unless_missing
from tasks.aws.drift_events import NO_QUEUE
from tasks.connections import Target


class NoQueue(RuntimeError):
    """The queue (or its dead-letter queue) does not exist: the message says how to make it."""


@dataclass(frozen=True)
class Message:
    id: str
    body: str
    receipt: str
    receives: int  # how many times SQS handed it out (1: the first)


class EventQueue:
    def __init__(self, target: Target, name: str):
        self.sqs = target.client("sqs")
        self.name = name
        self.url = self._url(name, target)
        self.dead_letter_url = self._url(dead_letter_queue(name), target)

    def _url(self, name: str, target: Target) -> str:
        found = unless_missing(self.sqs.get_queue_url, *NO_QUEUE, QueueName=name)
        if found is None:
            raise NoQueue(f"--drift-events: the queue {name!r} does not exist in {target.region}: make it with "
                          f"`python -m flows.events setup --queue {self.name}` (the bootstrap makes "
                          "ackflow-drift-events)")
        return found["QueueUrl"]

    def receive(self, wait_seconds: int) -> list[Message]:
        """Up to ten messages, waiting at most `wait_seconds` for one (a long poll: an idle queue costs one call per
        wait)."""
        answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                                          AttributeNames=["ApproximateReceiveCount"])
        return [Message(m["MessageId"], m["Body"], m["ReceiptHandle"],
                        int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)))
                for m in answer.get("Messages", [])]

    def delete(self, message: Message) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)

    def hand_back(self, message: Message) -> None:
        """Visible again at once, for the next reader (this one stops before handling it)."""
        self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=message.receipt, VisibilityTimeout=0)

    def later(self, message: Message, seconds: float) -> None:
        """The message again in `seconds` (a copy, delayed, and this one deleted: its receive count starts afresh, so
        a table that stays busy for minutes is never dead-lettered for it)."""
        self.sqs.send_message(QueueUrl=self.url, MessageBody=message.body,
                              DelaySeconds=min(900, max(1, math.ceil(seconds))))
        self.delete(message)

    def dead_letter(self, message: Message, why: str) -> None:
        """To the dead-letter queue, with why, then off this queue (a message that cannot be read never will be)."""
        self.sqs.send_message(QueueUrl=self.dead_letter_url, MessageBody=message.body, MessageAttributes={
            "ackflow-error": {"DataType": "String", "StringValue": why[:1000]},
            "ackflow-source-message-id": {"DataType": "String", "StringValue": message.id}})
        self.delete(message)

