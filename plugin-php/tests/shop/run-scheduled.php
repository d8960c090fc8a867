<?php
/**
 * Runs the due Action Scheduler actions of a test shop once (queued webhook deliveries when the
 * shop was installed with --webhooks async), as WP-Cron would. Usage: php run-scheduled.php DIR
 * Prints the number of actions that ran.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

if ( empty( $argv[1] ) || ! is_file( $argv[1] . '/wp-load.php' ) ) {
	fwrite( STDERR, "usage: php run-scheduled.php DIR\n" );
	exit( 2 );
}
require rtrim( $argv[1], '/' ) . '/wp-load.php';
echo (int) ActionScheduler_QueueRunner::instance()->run( 'printbridge-test' ) . "\n";
