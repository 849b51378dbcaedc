/**
 * npm run privacy -- --sampling-rate 0.01 --noise-multiplier 1 --rounds 879 --delta 1e-5
 * npm run privacy -- --sampling-rate 0.01 --rounds 1000 --delta 1e-5 --epsilon 2      (the noise multiplier)
 * npm run privacy -- --expected-per-round 25 --participants 950 --noise-multiplier 1 --delta 1e-4 --epsilon 3   (rounds)
 * Plans a DP-FedAvg run with the RDP accountant before it starts. Usage errors exit with 2.
 */
import { PrivacyParameterError } from '../privacy/params.js';
import { parsePrivacyArgs, PRIVACY_HELP } from './privacy-args.js';
import { privacyReport } from './privacy-report.js';

function main(): void {
  const parsed = parsePrivacyArgs(process.argv.slice(2));
  if (!parsed.ok) {
    console.error(`privacy: ${parsed.error}\n\nRun with --help for the options.`);
    process.exit(2);
  }
  const command = parsed.command;
  if (command.kind === 'help') {
    process.stdout.write(PRIVACY_HELP);
    return;
  }
  try {
    const report = privacyReport(command);
    console.log(command.json ? JSON.stringify(report.json) : report.lines.join('\n'));
  } catch (error) {
    if (error instanceof PrivacyParameterError) {
      console.error(`privacy: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}

try {
  main();
} catch (error: unknown) {
  console.error(`privacy: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
