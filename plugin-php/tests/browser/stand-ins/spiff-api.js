/* Local stand-in for Spiff's api.js: setRegion, IntegrationProduct and the HostedExperience
 * editor of the current storefront API (and the Transaction of legacy AU accounts), with a
 * fake modal. Every call is logged in window.__spiffLog. */
( function () {
	'use strict';
	window.__spiffLog = [];
	function Emitter() {
		this.handlers = {};
	}
	Emitter.prototype.on = function ( name, fn ) {
		( this.handlers[ name ] = this.handlers[ name ] || [] ).push( fn );
	};
	Emitter.prototype.emit = function ( name, arg ) {
		( this.handlers[ name ] || [] ).forEach( function ( fn ) {
			fn( arg );
		} );
	};
	function IntegrationProduct( id ) {
		Emitter.call( this );
		this.id = id;
		window.__spiffLog.push( { call: 'IntegrationProduct', id: id } );
	}
	IntegrationProduct.prototype = Object.create( Emitter.prototype );
	IntegrationProduct.prototype.confirmActive = function () {
		var self = this;
		setTimeout( function () {
			self.emit( /^[0-9a-f-]{36}$/.test( self.id ) ? 'ready' : 'invalid' );
		}, 10 );
	};
	function Transaction( options ) {
		Emitter.call( this );
		this.options = options;
		window.__spiffLog.push( { call: 'Transaction', currency: options.presentmentCurrency, product: options.integrationProduct && options.integrationProduct.id } );
	}
	Transaction.prototype = Object.create( Emitter.prototype );
	function HostedExperience( options ) {
		Emitter.call( this );
		this.options = options;
		window.__spiffLog.push( { call: 'HostedExperience', currency: options.presentmentCurrency, product: options.product && options.product.id, applicationKey: options.applicationKey } );
	}
	HostedExperience.prototype = Object.create( Emitter.prototype );
	HostedExperience.prototype.execute = Transaction.prototype.execute = function () {
		var self = this;
		var modal = document.createElement( 'div' );
		modal.id = 'spiff-standin-modal';
		modal.setAttribute( 'style', 'position:fixed;inset:10%;background:#fff;border:3px solid #da1c5c;padding:2em;z-index:9999' );
		modal.innerHTML = '<h2>Spiff workflow (stand-in)</h2><p>Design your mug.</p><button type="button" id="spiff-standin-finish">Finish design</button>';
		document.body.appendChild( modal );
		document.getElementById( 'spiff-standin-finish' ).addEventListener( 'click', function () {
			modal.remove();
			self.emit( 'complete', { transactionId: 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38', baseCost: 1200, optionsCost: 0, exportedData: {}, previewImage: '' } );
		} );
		return Promise.resolve();
	};
	function setRegion( region ) {
		window.__spiffLog.push( { call: 'setRegion', region: region } );
	}
	window.Spiff = { setRegion: setRegion, IntegrationProduct: IntegrationProduct, HostedExperience: HostedExperience, Transaction: Transaction };
	window.dispatchEvent( new Event( 'SpiffApiReady' ) );
}() );
