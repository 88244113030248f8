/** Commands that talk to a running host over the admin API; registered as the server lands. */
import type { Command } from 'commander';

export function registerExtraCommands(_program: Command): void {}
