/**
 * Lambda entry point of the deploy step: the schema's custom resource (./schema-resource.ts).
 * Apart from src/handler.ts so that no function of the hot path loads it.
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { handleSchemaEvent } from './schema-resource';
import { masterSettings, schemaWork } from './schema-work';

export async function schema(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  // Settings read per event, inside the answer's try: a missing one is a FAILED answer, not a hang.
  let work;
  try {
    work = schemaWork(masterSettings());
  } catch (error) {
    work = {
      apply: () => Promise.reject(error),
    };
  }
  await handleSchemaEvent(event, context, work, { kind: 'iam' });
}
