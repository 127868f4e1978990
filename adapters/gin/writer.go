package ginotl

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// writer sends output through otlogin's writer w, which writes to gin's writer; gin's
// bookkeeping (Status, Size, Written), Hijack and CloseNotify stay on gin's writer.
type writer struct {
	gin.ResponseWriter
	w http.ResponseWriter
}

func (w *writer) WriteHeader(code int)              { w.w.WriteHeader(code) }
func (w *writer) Write(b []byte) (int, error)       { return w.w.Write(b) }
func (w *writer) WriteString(s string) (int, error) { return w.w.Write([]byte(s)) }
func (w *writer) Unwrap() http.ResponseWriter       { return w.w }

// WriteHeaderNow lets otlogin save the session before gin sends the header.
func (w *writer) WriteHeaderNow() {
	if !w.Written() {
		w.w.WriteHeader(w.Status())
	}
	w.ResponseWriter.WriteHeaderNow()
}

// Flush saves the session, then flushes.
func (w *writer) Flush() {
	w.WriteHeaderNow()
	_ = http.NewResponseController(w.w).Flush()
}
