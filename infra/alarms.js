// Where the template's alarms (ShardFailuresAlarm) notify: the SNS topic of ALARM_TOPIC_ARN,
// or no one. The topic is yours (its subscriptions: mail, a pager, chat), so the stack creates
// none and its deploy needs no SNS permission. Read by settings.js and scripts/deploy/checks.ts.
'use strict';

/**
 * A standard SNS topic's ARN (topic names: 1 to 256 letters, digits, - and _). A FIFO topic
 * (.fifo) is left out: CloudWatch alarms cannot notify one.
 */
const ALARM_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** The one line for an ALARM_TOPIC_ARN that is no such ARN. */
function alarmTopicProblem() {
  return 'ALARM_TOPIC_ARN must be the ARN of a standard SNS topic (arn:aws:sns:<region>:<account>:<topic name>).';
}

/** The alarms' AlarmActions and OKActions: the topic, or none when it is unset. */
function alarmActions(topicArn) {
  return topicArn === undefined || topicArn === null || String(topicArn).trim() === '' ? [] : [String(topicArn).trim()];
}

module.exports = { ALARM_TOPIC_ARN, alarmTopicProblem, alarmActions };
