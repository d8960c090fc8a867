<?php
// phpcs:ignoreFile

class DesignIdTest extends PrintBridge_TestCase {

	public function test_spiff_ids_must_be_uuids() {
		$this->assertTrue( PrintBridge_Design_Id::is_valid( 'spiff', 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38' ) );
		$this->assertTrue( PrintBridge_Design_Id::is_valid( 'spiff', 'E3AC7F3A-A117-46D7-A5F0-232FBC7CFE38' ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'spiff', 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe3' ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'spiff', "e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38\n" ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'spiff', 'project_1' ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'spiff', array( 'x' ) ) );
	}

	public function test_key2print_ids_are_short_tokens() {
		$this->assertTrue( PrintBridge_Design_Id::is_valid( 'key2print', 'b6233983-8eb8_11ea' ) );
		$this->assertTrue( PrintBridge_Design_Id::is_valid( 'key2print', str_repeat( 'a', 64 ) ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'key2print', str_repeat( 'a', 65 ) ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'key2print', '' ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'key2print', 'a b' ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'key2print', '<script>' ) );
		$this->assertFalse( PrintBridge_Design_Id::is_valid( 'none', 'abc' ) );
	}

	public function test_meta_keys_match_the_bridge_contract() {
		$this->assertSame( '_printbridge_spiff_transaction_id', PrintBridge_Design_Id::meta_key( 'spiff' ) );
		$this->assertSame( '_printbridge_key2print_project_id', PrintBridge_Design_Id::meta_key( 'key2print' ) );
		$this->assertSame( '', PrintBridge_Design_Id::meta_key( 'apliiq' ) );
	}
}
