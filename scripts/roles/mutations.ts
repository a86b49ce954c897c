/**
 * `npm run roles:mutations`: shows that the role simulation (test/deploy/roles.test.ts) notices
 * every change that would give a function less or more than it calls. For each packaged variant
 * (test/support/package/variants.ts, packaged once per source tree), it removes each statement of
 * each role in turn, widens each statement's Resource to `*`, and widens connect's role to post,
 * then runs the whole simulation on the changed template and counts the checks that fail. Exit 1
 * if any change goes unnoticed.
 */
import { simulateMutations } from '../../test/support/iam/mutations';
import { simulateTemplate } from '../../test/support/iam/simulate';
import { packageVariants, VARIANT_NAMES, VARIANTS } from '../../test/support/package/variants';

async function main(): Promise<number> {
  const packaged = await packageVariants();
  let total = 0;
  let missed = 0;
  for (const name of VARIANT_NAMES) {
    const { template } = packaged[name];
    const baseline = await simulateTemplate(template, VARIANTS[name]);
    console.log(
      `\n${name} (${VARIANTS[name].title}): ${baseline.checks} checks, ${baseline.findings.length} failing as packaged`,
    );
    for (const finding of baseline.findings) console.log(`  ! ${finding}`);
    for (const caught of await simulateMutations(template, VARIANTS[name])) {
      total += 1;
      if (caught.findings === 0) missed += 1;
      const verdict = caught.findings === 0 ? 'NOT CAUGHT' : `caught by ${caught.findings} failing check(s)`;
      console.log(`  ${caught.mutation}: ${verdict}`);
      if (caught.first !== undefined) console.log(`      e.g. ${caught.first}`);
    }
  }
  console.log(`\n${total} mutations, ${total - missed} caught, ${missed} not caught`);
  return missed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
