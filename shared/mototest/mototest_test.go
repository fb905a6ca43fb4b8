package mototest

import (
	"net/http"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

func TestStartAndReset(t *testing.T) {
	url := Start(t)
	Reset(t)
	resp, err := http.Get(url + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("moto data endpoint: %d", resp.StatusCode)
	}
}
