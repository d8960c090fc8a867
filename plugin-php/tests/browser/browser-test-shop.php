<?php
/**
 * Plugin Name: PrintBridge browser tests
 * Description: Settings of the browser tests' shop: the product page gives up on an editor that
 * does not load after 3 seconds (instead of 15), so the failure tests stay short.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

add_filter(
	'printbridge_editor_timeout_ms',
	static function () {
		return 3000;
	}
);
